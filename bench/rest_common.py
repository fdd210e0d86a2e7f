"""Shared pieces of the REST benchmarks (not a benchmark itself): servers as processes, the
bare starlette baseline, and keep-alive client loads."""

from __future__ import annotations

import http.client
import json
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


def bare_server(responses_file: str, http: str = "h11", loop: str = "asyncio") -> None:
    """The baseline: starlette routes that return canned JSON, served by uvicorn on the given
    stack (by default the pure-Python one: h11 on asyncio's loop)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    canned = json.loads(Path(responses_file).read_text(encoding="utf-8"))
    detail = json.dumps(canned["detail"], separators=(",", ":")).encode()
    ack = json.dumps(canned["ack"], separators=(",", ":")).encode()

    async def worker(request: Request) -> Response:
        return Response(detail, media_type="application/json")

    async def send_input(request: Request) -> Response:
        await request.body()
        return Response(ack, media_type="application/json")

    app = Starlette(
        routes=[
            Route("/v1/workers/{worker_id}", worker, methods=["GET"]),
            Route("/v1/workers/{worker_id}/input", send_input, methods=["POST"]),
        ]
    )
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        http=http,
        loop=loop,
    )
    server = uvicorn.Server(config)
    import socket

    # proto IPPROTO_TCP, as the Runtime's server binds: asyncio sets TCP_NODELAY only then.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = sock.getsockname()[1]
    print(json.dumps({"event": "ready", "url": f"http://127.0.0.1:{port}"}), flush=True)
    server.run(sockets=[sock])


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(command: list[str], env: dict[str, str] | None = None) -> Running:
    """Start ``command`` and wait (bounded) for its ready line. Its stderr is kept aside and
    shown only if it does not start."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
        )
        lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            line = ""
        if not line:
            process.kill()
            process.wait()
            errors.seek(0)
            raise SystemExit(f"server {command} did not start: {errors.read().decode()}")
    return Running(process, json.loads(line)["url"])


@contextmanager
def running(command: list[str]) -> Iterator[Running]:
    server = start(command)
    try:
        yield server
    finally:
        server.stop()


def request(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def load(
    url: str, method: str, path: str, body: bytes | None, clients: int, seconds: float
) -> Result:
    parts = urlsplit(url)
    assert parts.hostname is not None
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    begin = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def loop(index: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        mine = latencies[index]
        begin.wait()
        while True:
            started = time.perf_counter()
            if started >= stop_at[0]:
                break
            status, _ = request(connection, method, path, body)
            mine.append(time.perf_counter() - started)
            if status != 200:
                errors[index] += 1
        connection.close()

    threads = [threading.Thread(target=loop, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    begin.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    merged = [value for part in latencies for value in part]
    return Result(len(merged), elapsed, merged, sum(errors))


def inputs_per_second(url: str, clients: int, seconds: float, body: bytes) -> float:
    """Each client creates a Worker of its own (profile none), then posts ``body`` to it over a
    keep-alive connection as fast as it can; inputs per second in total."""
    parts = urlsplit(url)
    counts = [0] * clients
    begin = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        create = {
            "intent": {"kind": "assistant"},
            "profile": {"kind": "builtin", "value": "none"},
        }
        status, answer = request(connection, "POST", "/v1/workers", json.dumps(create).encode())
        assert status == 201, answer
        path = f"/v1/workers/{json.loads(answer)['worker']['worker_id']}/input"
        begin.wait()
        while not stop.is_set():
            status, answer = request(connection, "POST", path, body)
            assert status == 200, answer
            counts[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    begin.wait()
    started = time.perf_counter()
    stop.wait(seconds)  # the measurement window itself
    stop.set()
    elapsed = time.perf_counter() - started
    for thread in threads:
        thread.join()
    return sum(counts) / elapsed
