"""REST throughput: the Runtime's server vs a bare starlette handler on the same stack, one run.

Both servers are real processes on loopback, served by uvicorn with the same settings (access
log off, no lifespan). The bare app answers ``GET /v1/workers/{id}`` and
``POST /v1/workers/{id}/input`` with the very JSON the Runtime's server sent for the same
request, computed in advance: no validation, no token check, no thread hop, no Runtime. The
same client loop (keep-alive ``http.client`` connections in threads) drives both.
Goal: at least 0.6x the bare requests per second. Reports p50 and p99 latency.
Run: ``python bench/rest_throughput.py [--seconds S] [--clients N]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from rest_common import Running, bare_server, load, request, start

GOAL_RATIO = 0.6
WORKER = "bench-worker"
INPUT_BODY = json.dumps({"kind": "user", "content": "benchmark input"}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--bare-server", metavar="RESPONSES_JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return

    runtime = start([sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", "memory"])
    bare: Running | None = None
    try:
        parts = urlsplit(runtime.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        create = json.dumps(
            {
                "name": WORKER,
                "intent": {"kind": "task", "objective": "benchmark"},
                "profile": {"kind": "runtime_default"},
            }
        ).encode()
        status, _ = request(connection, "POST", "/v1/workers", create)
        assert status == 201, status
        _, ack = request(connection, "POST", f"/v1/workers/{WORKER}/input", INPUT_BODY)
        _, detail = request(connection, "GET", f"/v1/workers/{WORKER}", None)
        connection.close()
        canned = Path(f"/tmp/yoi-bench-rest-{os.getpid()}.json")
        canned.write_text(
            json.dumps({"detail": json.loads(detail), "ack": json.loads(ack)}), encoding="utf-8"
        )
        bare = start([sys.executable, __file__, "--bare-server", str(canned)])
        canned.unlink()

        scenarios = [
            ("GET /v1/workers/{id}", "GET", f"/v1/workers/{WORKER}", None),
            ("POST /v1/workers/{id}/input", "POST", f"/v1/workers/{WORKER}/input", INPUT_BODY),
        ]
        print(
            f"rest_throughput: {args.clients} keep-alive clients, {args.seconds:g} s each, "
            "uvicorn (h11) on loopback"
        )
        worst = float("inf")
        for label, method, path, body in scenarios:
            load(bare.url, method, path, body, args.clients, 0.5)  # warm-up
            load(runtime.url, method, path, body, args.clients, 0.5)
            base = load(bare.url, method, path, body, args.clients, args.seconds)
            ours = load(runtime.url, method, path, body, args.clients, args.seconds)
            assert base.errors == 0 and ours.errors == 0, (base.errors, ours.errors)
            ratio = ours.rps / base.rps
            worst = min(worst, ratio)
            for name, result in (("bare starlette", base), ("yoi Runtime", ours)):
                print(
                    f"  {label:30} {name:15} {result.rps:8.0f} req/s  "
                    f"p50 {result.percentile(0.50):6.2f} ms  p99 {result.percentile(0.99):6.2f} ms"
                )
            print(f"  {label:30} ratio {ratio:.2f}x (goal >= {GOAL_RATIO}x)")
        verdict = "meets" if worst >= GOAL_RATIO else "MISSES"
        print(f"rest_throughput: worst ratio {worst:.2f}x {verdict} the goal of {GOAL_RATIO}x")
    finally:
        runtime.stop()
        if bare is not None:
            bare.stop()


if __name__ == "__main__":
    main()
