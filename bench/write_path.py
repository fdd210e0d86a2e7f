"""The durable write path: inputs per second on the fs store against the memory store, one run.

Each client is a thread with a keep-alive connection posting 200-byte inputs to a Worker of its
own (profile ``none``: the input is recorded, no turn runs) for a few seconds. The same clients
drive a server on the memory store (the baseline: no I/O at all) and one on the fs store (every
input on stable storage before its answer). Goals: with 32 clients, fs at least 0.8x memory;
with 1 client, one fsync per input is the floor, so the report also shows the raw
``write``+``fsync`` rate of one file on the same disk.

Also measured: session-store appends from 1, 4 and 16 threads to as many sessions in one process
(goal: 4 threads at least 2x one thread's rate).
Run: ``python bench/write_path.py [--seconds S] [--clients 1,8,32]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rest_common import inputs_per_second, start

INPUT = json.dumps({"kind": "user", "content": "x" * 200}).encode()
GOAL_32 = 0.8
GOAL_THREADS = 2.0


@contextmanager
def server(store: str, data: Path, *extra: str) -> Iterator[str]:
    command = [sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", store, *extra]
    env = {**os.environ, "YOI_RUNTIME_DIR": str(data / "run"), "YOI_DATA_DIR": str(data)}
    running = start(command, env=env)
    try:
        yield running.url
    finally:
        running.stop()


def raw_fsync_rate(directory: Path, seconds: float = 1.0) -> float:
    fd = os.open(directory / "raw.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        os.write(fd, b"x" * 260 + b"\n")
        os.fsync(fd)
        count += 1
    os.close(fd)
    return count / (time.perf_counter() - began)


def session_appends(directory: Path, threads: int, seconds: float) -> float:
    from yoi_session_store.ids import new_segment_id, new_session_id
    from yoi_session_store.model import Extension, RequestConfig, SegmentStart
    from yoi_session_store.plugins import open_session_store

    store = open_session_store(f"fs://{directory / f'sessions-{threads}'}")
    counts = [0] * threads
    stop = threading.Event()
    ready = threading.Barrier(threads + 1)

    def appender(index: int) -> None:
        session, segment = new_session_id(), new_segment_id()
        start = SegmentStart(
            ts=0, session_id=session, system_prompt=None, config=RequestConfig(), history=()
        )
        store.create_segment(session, segment, [start])
        entry = Extension(ts=1, domain="bench", payload={"text": "x" * 200})
        ready.wait()
        while not stop.is_set():
            store.append(session, segment, entry)
            counts[index] += 1

    workers = [threading.Thread(target=appender, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait()
    began = time.perf_counter()
    time.sleep(seconds)  # the measurement window
    stop.set()
    elapsed = time.perf_counter() - began
    for worker in workers:
        worker.join()
    store.close()
    return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    counts = [int(item) for item in args.clients.split(",")]
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as temporary:
        root = Path(temporary)
        print(f"raw write+fsync of one file: {raw_fsync_rate(root):.0f}/s")
        rates: dict[tuple[str, int], float] = {}
        for store in ("memory", "fs"):
            for clients in counts:
                data = root / f"{store}-{clients}"
                data.mkdir()
                url_store = "memory" if store == "memory" else f"fs://{data / 'store'}"
                with server(url_store, data) as url:
                    rates[store, clients] = inputs_per_second(url, clients, args.seconds, INPUT)
        print(f"{'clients':>8} {'memory/s':>10} {'fs/s':>10} {'fs/memory':>10}")
        for clients in counts:
            memory, fs = rates["memory", clients], rates["fs", clients]
            print(f"{clients:>8} {memory:>10.0f} {fs:>10.0f} {fs / memory:>10.2f}")
        if 32 in counts:
            ratio = rates["fs", 32] / rates["memory", 32]
            print(f"32 clients: fs {ratio:.2f}x memory (goal >= {GOAL_32}x)")
        appends = {n: session_appends(root, n, args.seconds / 2) for n in (1, 4, 16)}
        for threads, rate in appends.items():
            print(
                f"session-store appends, {threads:>2} threads: {rate:.0f}/s "
                f"({rate / appends[1]:.2f}x one thread)"
            )
        print(f"4 threads: {appends[4] / appends[1]:.2f}x one thread (goal >= {GOAL_THREADS}x)")


if __name__ == "__main__":
    main()
