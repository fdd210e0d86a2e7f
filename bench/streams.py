"""Fan-out of durable events to 500 clients of one REST server: SSE streams against long-poll.

The Runtime's REST server runs as a real process on loopback (memory store, echo profile, one
chunk a turn). The benchmark process holds N client connections (default 500) on one asyncio
loop over raw sockets: either N ``GET /v1/events/stream`` SSE streams, or (the baseline) N
long-poll clients, each looping ``GET /v1/events?cursor=C&wait=10`` on a kept-alive connection.
Once every client is connected, a producer (a process of its own) posts T inputs (default 40)
round robin to 10 Workers, back to back (each as soon as the previous one is answered) or at
``--rate`` inputs a second. Each input is a turn: 3 durable events (``worker_input_accepted``,
``turn_started``, ``turn_completed``); SSE streams also carry the turn's ``text_delta``. Every
client must receive every durable event, in order, exactly once.

- Delivered per second: durable events received, summed over the clients, divided by the time
  from the first input to the last delivery. The ratio is SSE over long-poll.
- Latency: for each (client, event), the client's read time less the event's commit time, its
  ``at`` (wall clock, floored to the millisecond: figures may read up to 1 ms high). Inputs
  posted back to back keep the server saturated, so this includes the queueing that causes.
- The clients, the producer and the server share this machine's cores (and other users' work
  may too): the CPU the server and the clients used, and how busy the machine was, are printed.

    python bench/streams.py [--clients N] [--turns T] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
import tempfile
import time
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from runtime_common import percentile, running
from yoi_worker_runtime import CreateWorkerRequest, EventCursor, RuntimeDefaultProfile, TaskIntent
from yoi_worker_runtime.client import RuntimeClient

WORKERS = 10
EVENTS_PER_TURN = 3
LONG_POLL_WAIT = 10
#: Connections opened at once while the clients connect.
CONNECT_AT_ONCE = 50
#: Seconds the clients may take to connect, and to receive everything.
DEADLINE = 180.0
CONFIG = """
default_profile = "bench"

[profiles.bench]
engine = "echo"
options = { chunks = 1 }
"""


@dataclass
class Client:
    """What one client received: the read time of each durable event, in id order."""

    next_id: int
    last_id: int
    read_at: array[float] = field(default_factory=lambda: array("d"))

    def received(self, event_id: int, now: float) -> None:
        if event_id != self.next_id:
            raise SystemExit(f"a client expected event {self.next_id}, got {event_id}")
        self.read_at.append(now)
        self.next_id += 1

    @property
    def done(self) -> bool:
        return self.next_id > self.last_id


ClientFunction = Callable[[str, int, Client, Callable[[], None]], Awaitable[None]]


async def _get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str
) -> dict[str, str]:
    """Send a GET and read the answer's head: its headers (lower-case names)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    if status.split()[1] != "200":
        raise SystemExit(f"GET {path}: {status}")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


async def sse_client(host: str, port: int, client: Client, connected: Callable[[], None]) -> None:
    """Read ``/v1/events/stream`` until the client has every event it waits for."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        path = f"/v1/events/stream?after={client.next_id - 1}"
        headers = await _get(reader, writer, f"{host}:{port}", path)
        assert headers.get("transfer-encoding") == "chunked", headers
        raw, body = bytearray(), bytearray()
        while not client.done:
            data = await reader.read(65536)
            if not data:
                raise SystemExit("the server ended a stream")
            now = time.time()
            raw += data
            while (line_end := raw.find(b"\r\n")) >= 0:  # undo the chunked transfer coding
                size = int(raw[:line_end], 16)
                if size == 0:
                    raise SystemExit("the server ended a stream")
                if len(raw) < line_end + size + 4:
                    break
                body += raw[line_end + 2 : line_end + 2 + size]
                del raw[: line_end + size + 4]
            while (frame_end := body.find(b"\n\n")) >= 0:
                frame = bytes(body[:frame_end])
                del body[: frame_end + 2]
                if frame.startswith(b"id: "):
                    client.received(int(frame[4 : frame.index(b"\n")]), now)
                elif frame == b": connected":
                    connected()
    finally:
        writer.close()


async def long_poll_client(
    host: str, port: int, client: Client, connected: Callable[[], None]
) -> None:
    """Long-poll ``/v1/events`` on one kept-alive connection until the client has every event."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        wait = 0  # the first read, which answers at once, shows the connection works
        while not client.done:
            path = f"/v1/events?cursor={client.next_id}&wait={wait}"
            headers = await _get(reader, writer, f"{host}:{port}", path)
            body = await reader.readexactly(int(headers["content-length"]))
            now = time.time()
            for event in json.loads(body)["batch"]["events"]:
                client.received(event["id"], now)
            if not wait:
                wait = LONG_POLL_WAIT
                connected()
    finally:
        writer.close()


async def connect_all(
    run_client: ClientFunction, fleet: list[Client], host: str, port: int
) -> list[asyncio.Task[None]]:
    """Start every client, a few connecting at a time; return their tasks once all are
    connected (a client that fails raises when its task is awaited)."""
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    everyone = asyncio.Event()
    connecting = [len(fleet)]

    async def one(client: Client) -> None:
        connected = asyncio.Event()
        async with gate:
            task = asyncio.ensure_future(run_client(host, port, client, connected.set))
            waiter = asyncio.ensure_future(connected.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        connecting[0] -= 1
        if not connecting[0]:
            everyone.set()
        await task

    tasks = [asyncio.ensure_future(one(client)) for client in fleet]
    await asyncio.wait_for(everyone.wait(), DEADLINE)
    return tasks


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def process_cpu(pid: int) -> float:
    """User and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def produce(url: str, workers: list[str], turns: int, rate: float) -> None:
    """Post ``turns`` inputs round robin, at ``rate`` a second or (0) back to back; print when
    posting began and ended. Run as a process of its own, so it never waits for the clients'
    interpreter lock."""
    with RuntimeClient(url) as rest:
        started = time.time()
        for number in range(turns):
            pause = started + number / rate - time.time() if rate else 0.0
            if pause > 0:
                time.sleep(pause)  # pacing the load, not waiting for a result
            rest.send_input(workers[number % len(workers)], f"input {number}")
    print(json.dumps({"started": started, "ended": time.time()}), flush=True)


def commit_times(rest: RuntimeClient, first: int, last: int) -> dict[int, float]:
    """Each event's ``at`` as seconds since the epoch."""
    cursor = EventCursor(runtime_id=rest.summary().runtime_id, next_event_id=first)
    found: dict[int, float] = {}
    while cursor.next_event_id <= last:
        batch = rest.events(cursor)
        for event in batch.events:
            found[event.id] = datetime.datetime.fromisoformat(event.at).timestamp()
        cursor = batch.cursor
    return found


@dataclass
class Outcome:
    label: str
    deliveries: int
    #: From the first input posted to the last delivery.
    seconds: float
    #: How long posting the inputs took.
    posting: float
    latencies: list[float]
    #: CPU the server and the benchmark's clients used (in cores), and the share of the whole
    #: machine's CPU time that was busy (every process, other users' included).
    server_cpu: float
    client_cpu: float
    machine_busy: float

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds


def measure(
    label: str, run_client: ClientFunction, clients: int, turns: int, rate: float
) -> Outcome:
    """One fresh server, ``clients`` clients of one kind, ``turns`` inputs."""
    with tempfile.TemporaryDirectory(prefix="yoi-bench-streams-") as scratch:
        config = Path(scratch) / "runtime.toml"
        config.write_text(CONFIG, encoding="utf-8")
        command = [sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", "memory"]
        with running([*command, "--config", str(config)]) as server:
            rest = RuntimeClient(server.url)
            request = CreateWorkerRequest(
                intent=TaskIntent(objective="benchmark"), profile=RuntimeDefaultProfile()
            )
            workers = [rest.create_worker(request).worker_id for _ in range(WORKERS)]
            first = rest.summary().last_event_id + 1
            last = first + EVENTS_PER_TURN * turns - 1
            parts = urlsplit(server.url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 80
            fleet = [Client(next_id=first, last_id=last) for _ in range(clients)]
            producer_job = json.dumps(
                {"url": server.url, "workers": workers, "turns": turns, "rate": rate}
            )

            async def run() -> tuple[dict[str, float], float, float, float]:
                """Connect the clients, post the inputs, wait for every delivery; the producer's
                report, then the server's and the clients' CPU (in cores) and the machine's
                busy share over that time."""
                tasks = await connect_all(run_client, fleet, host, port)
                began = time.monotonic()
                server_before, client_before = process_cpu(server.process.pid), time.process_time()
                busy_before, total_before = machine_ticks()
                producer = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--produce",
                    producer_job,
                    stdout=asyncio.subprocess.PIPE,
                )
                await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE)
                elapsed = time.monotonic() - began
                server_cpu = (process_cpu(server.process.pid) - server_before) / elapsed
                client_cpu = (time.process_time() - client_before) / elapsed
                busy_after, total_after = machine_ticks()
                busy = (busy_after - busy_before) / max(1, total_after - total_before)
                output, _ = await producer.communicate()
                if producer.returncode:
                    raise SystemExit(f"the producer failed ({producer.returncode})")
                return json.loads(output), server_cpu, client_cpu, busy

            posting, server_cpu, client_cpu, busy = asyncio.run(run())
            commits = commit_times(rest, first, last)
            rest.close()
    finished = max(client.read_at[-1] for client in fleet)
    latencies = [
        read - commits[first + index]
        for client in fleet
        for index, read in enumerate(client.read_at)
    ]
    return Outcome(
        label=label,
        deliveries=len(latencies),
        seconds=finished - posting["started"],
        posting=posting["ended"] - posting["started"],
        latencies=latencies,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        machine_busy=busy,
    )


def report(outcome: Outcome) -> None:
    print(
        f"  {outcome.label:11}: {outcome.rate:7.0f} events/s delivered in total "
        f"({outcome.deliveries} in {outcome.seconds:.2f} s; posting the inputs took "
        f"{outcome.posting:.2f} s)"
    )
    print(
        f"  {'':11}  latency p50 {percentile(outcome.latencies, 0.5) * 1000:6.1f} ms, "
        f"p99 {percentile(outcome.latencies, 0.99) * 1000:6.1f} ms; CPU: server "
        f"{outcome.server_cpu:.0%}, clients {outcome.client_cpu:.0%} of a core; machine "
        f"{outcome.machine_busy:.0%} busy (all cores, every process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--rate", type=float, default=0.0, help="inputs a second (0: back to back)")
    parser.add_argument("--produce", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        produce(**json.loads(args.produce))
        return
    clients, turns, rate = args.clients, args.turns, args.rate
    pace = f"at {rate:g}/s" if rate else "back to back"
    print(
        f"streams: {clients} clients of one REST server (memory store, echo, 1 chunk a turn); "
        f"{turns} inputs {pace} to {WORKERS} Workers = {EVENTS_PER_TURN * turns} durable events "
        f"for every client; server, clients and producer share {os.cpu_count()} cores"
    )
    sse = measure("SSE streams", sse_client, clients, turns, rate)
    report(sse)
    poll = measure("long-poll", long_poll_client, clients, turns, rate)
    report(poll)
    print(f"  ratio (SSE / long-poll events delivered per second): {sse.rate / poll.rate:.2f}x")


if __name__ == "__main__":
    main()
