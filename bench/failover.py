"""Failover between Runtimes sharing one PostgreSQL store, and that store's write path against fs.

Failover: Runtime A (``yoi runtime serve``) hosts K Workers (profile ``none``), each sent one
input; Runtime B serves the same store with ``--adopt``. A is SIGKILLed, and measured is the time
from the kill until every one of A's Workers takes an input on B (B's events are long-polled:
each ``worker_adopted`` wakes the wait, then that Worker is sent an input). The baseline is the
lease's lapse, its time to live plus its margin (1.2 x TTL): when B may judge A's lease lapsed.
It counts from A's last heartbeat, which came up to a quarter of the TTL before the kill, so a
result may be a little under 1x. Goal: every Worker serving on B within the lapse + 15 s.
Measured at ``lease_ttl=3`` and at the default time to live (15 s), each on a schema of its own.

Throughput: N clients (default 8), each a thread with a keep-alive connection posting 200-byte
inputs to a Worker of its own (profile ``none``: the input is recorded, no turn runs), against a
Runtime on the PostgreSQL store and one on the fs store; the ratio is postgresql/fs.

Starts a throwaway PostgreSQL cluster as bench/postgres_stores.py does (or uses
``$YOI_TEST_POSTGRES_URL``); every process started here is stopped before it exits.
Run: ``python bench/failover.py [--workers K] [--seconds S] [--clients N] [--skip-default-ttl]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from postgres_stores import postgres
from rest_common import Running, inputs_per_second, start
from yoi_store_postgres.config import parse_url
from yoi_worker_runtime import (
    BuiltinProfile,
    CreateWorkerRequest,
    EventCursor,
    TaskIntent,
    WorkerRuntimeError,
)
from yoi_worker_runtime.client import RuntimeClient

YOI = str(Path(sys.executable).parent / "yoi")
INPUT = json.dumps({"kind": "user", "content": "x" * 200}).encode()
#: The goal: every Worker serving on the adopting Runtime within this many seconds of the lapse.
GOAL_AFTER_LAPSE = 15.0
#: How long past the lapse to wait before giving up: far above what a working system needs.
GIVE_UP_AFTER_LAPSE = 60.0
#: A short time to live, as an operator wanting fast failover would set it.
SHORT_TTL = 3


@contextlib.contextmanager
def runtime(store: str, data: Path, *flags: str) -> Iterator[Running]:
    """``yoi runtime serve`` on ``store`` with its data and runtime dirs under ``data``."""
    data.mkdir(parents=True)
    env = {**os.environ, "YOI_RUNTIME_DIR": str(data / "run"), "YOI_DATA_DIR": str(data)}
    command = [YOI, "runtime", "serve", "--store", store, "--log-level", "warning", *flags]
    served = start(command, env=env)
    try:
        yield served
    finally:
        served.stop()  # also reaps a Runtime that was killed


@dataclass
class Failover:
    lease_ttl: float
    #: Seconds a lease takes to read lapsed after its last heartbeat: time to live plus margin.
    lapse: float
    #: Seconds from the kill until each Worker took an input on B, in the order they did.
    served: list[float]


def failover(server: str, root: Path, workers: int, lease_ttl: float | None) -> Failover:
    schema = f"failover_{uuid.uuid4().hex[:8]}"
    url = f"{server}?schema={schema}"
    if lease_ttl is not None:
        url += f"&lease_ttl={lease_ttl:g}"
    config = parse_url(url)
    lapse = config.lease_ttl + config.lease_margin
    names = [f"w{n}" for n in range(workers)]
    with contextlib.ExitStack() as servers:
        a = servers.enter_context(runtime(url, root / schema / "a", "--runtime-id", "rt-a"))
        with RuntimeClient(a.url) as client:
            for name in names:
                request = CreateWorkerRequest(
                    name=name,
                    intent=TaskIntent(objective="failover"),
                    profile=BuiltinProfile(value="none"),
                )
                client.create_worker(request)
                client.send_input(name, "before the kill")
        b = servers.enter_context(
            runtime(url, root / schema / "b", "--runtime-id", "rt-b", "--adopt")
        )
        with RuntimeClient(b.url) as client:
            cursor = client.events("now").cursor
            a.process.kill()
            killed = time.perf_counter()
            served = serving_times(client, cursor, names, killed, lapse + GIVE_UP_AFTER_LAPSE)
    return Failover(config.lease_ttl, lapse, served)


def serving_times(
    client: RuntimeClient,
    cursor: EventCursor,
    names: Sequence[str],
    killed: float,
    bound: float,
) -> list[float]:
    """Seconds from ``killed`` until each of ``names`` took an input on ``client``'s Runtime.
    A long-poll of its events wakes on each ``worker_adopted``; a Worker it adopted that does
    not take the input yet is tried again at the next wake."""
    waiting = set(names)
    adopted: set[str] = set()
    served: list[float] = []
    while waiting:
        remaining = killed + bound - time.perf_counter()
        if remaining <= 0:
            raise SystemExit(f"{sorted(waiting)} not serving on B {bound:.0f} s after the kill")
        batch = client.events(cursor, wait=min(5.0, remaining))
        cursor = batch.cursor
        adopted |= {
            event.worker_ref.worker_id
            for event in batch.events
            if event.kind == "worker_adopted" and event.worker_ref is not None
        }
        for name in sorted(adopted & waiting):
            try:
                client.send_input(name, "after the kill")
            except WorkerRuntimeError:
                continue
            served.append(time.perf_counter() - killed)
            waiting.discard(name)
    return served


def report(result: Failover, label: str) -> None:
    took = result.served[-1]
    verdict = "meets" if took <= result.lapse + GOAL_AFTER_LAPSE else "MISSES"
    print(
        f"failover: {label}: {took:.1f} s from SIGKILL to all {len(result.served)} Workers "
        f"serving on B ({took / result.lapse:.2f}x the lease's lapse at {result.lapse:.1f} s; "
        f"goal: within lapse + {GOAL_AFTER_LAPSE:g} s: {verdict})"
    )
    print(
        f"  first Worker serving at {result.served[0]:.1f} s, last at {took:.1f} s "
        f"(spread {took - result.served[0]:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=20, help="Workers on the killed Runtime")
    parser.add_argument("--seconds", type=float, default=4.0, help="each throughput run")
    parser.add_argument("--clients", type=int, default=8, help="throughput clients")
    parser.add_argument(
        "--skip-default-ttl",
        action="store_true",
        help="measure failover at lease_ttl=3 only (the default time to live takes ~20 s)",
    )
    args = parser.parse_args()
    if args.workers < 1 or args.clients < 1 or args.seconds <= 0:
        parser.error("--workers and --clients must be at least 1, --seconds above 0")
    with postgres() as server, tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        report(failover(server, root, args.workers, SHORT_TTL), f"lease_ttl={SHORT_TTL}")
        if not args.skip_default_ttl:
            result = failover(server, root, args.workers, None)
            report(result, f"lease_ttl={result.lease_ttl:g} (default)")
        rates: dict[str, float] = {}
        stores = {
            "postgresql": f"{server}?schema=throughput_{uuid.uuid4().hex[:8]}",
            "fs": f"fs://{root / 'fs-store'}",
        }
        for name, store in stores.items():
            with runtime(store, root / f"throughput-{name}") as served:
                rates[name] = inputs_per_second(served.url, args.clients, args.seconds, INPUT)
    print(
        f"throughput: {args.clients} clients, {args.seconds:g} s each: "
        f"postgresql {rates['postgresql']:.0f} inputs/s, fs {rates['fs']:.0f} inputs/s: "
        f"postgresql {rates['postgresql'] / rates['fs']:.2f}x fs"
    )


if __name__ == "__main__":
    main()
