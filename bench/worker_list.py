"""A huge page of Workers against the health endpoint: how much it delays other requests.

A server on the memory store holds 200 Workers whose task objectives are 1 MB each; another
process fetches all of them in one page (200 MB of JSON) while this one probes ``/v1/health``
every 5 ms. The baseline is the same probing with nothing else going on, in the same run. Goal:
the page delays health by at most 50 ms (worst probe during the fetch minus worst probe idle).
Run: ``python bench/worker_list.py [--workers N]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from rest_common import request, start

GOAL_SECONDS = 0.050
FETCH = """
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/v1/workers?limit=256", timeout=300) as answer:
    open(sys.argv[2], "wb").write(answer.read())
"""


def probe(url: str, stop: threading.Event) -> list[float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        request(connection, "GET", "/v1/health", None)
        latencies.append(time.perf_counter() - started)
        stop.wait(0.005)
    connection.close()
    return latencies


def worst_health(url: str, during: list[str] | None, seconds: float = 1.0) -> float:
    stop = threading.Event()
    found: list[float] = []
    prober = threading.Thread(target=lambda: found.extend(probe(url, stop)))
    prober.start()
    if during is None:
        stop.wait(seconds)
    else:
        subprocess.run(during, check=True)
    stop.set()
    prober.join()
    return max(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=200)
    args = parser.parse_args()
    server = [sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", "memory"]
    running = start([*server, "--max-body-bytes", str(2 << 20)])
    try:
        parts = urlsplit(running.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        objective = "x" * (1 << 20)
        for index in range(args.workers):
            body = {
                "name": f"big{index:04d}",
                "intent": {"kind": "task", "objective": objective},
                "profile": {"kind": "builtin", "value": "none"},
            }
            status, _ = request(connection, "POST", "/v1/workers", json.dumps(body).encode())
            assert status == 201
        connection.close()
        with tempfile.TemporaryDirectory() as directory:
            page = Path(directory) / "page.json"
            fetch = [sys.executable, "-c", FETCH, running.url, str(page)]
            idle = worst_health(running.url, None)
            started = time.perf_counter()
            busy = worst_health(running.url, fetch)
            took = time.perf_counter() - started
            size = page.stat().st_size
    finally:
        running.stop()
    delay = busy - idle
    verdict = "meets" if delay <= GOAL_SECONDS else "MISSES"
    print(f"worker_list: {args.workers} Workers, one page of {size / 1e6:.0f} MB in {took:.2f} s")
    print(f"  worst /v1/health: idle {idle * 1000:.1f} ms, during the page {busy * 1000:.1f} ms")
    print(f"worker_list: the page delays health by {delay * 1000:.1f} ms ({verdict} 50 ms)")


if __name__ == "__main__":
    main()
