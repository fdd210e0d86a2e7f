"""The HTTP stack: uvicorn on h11 and asyncio's loop against httptools and uvloop, one run.

Every server answers 32 keep-alive clients, each posting 200-byte inputs to a Worker of its own
on the memory store (profile none: the input is recorded, no turn runs). The baseline is a bare
starlette handler on the old, pure-Python stack (h11 on asyncio); the goal is for the Runtime's
server on the default stack to reach at least 1.5x the rate it had on the old stack, both
measured against that same baseline in this run.
Run: ``python bench/http_stack.py [--seconds S] [--clients N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from rest_common import inputs_per_second, start

GOAL = 1.5
INPUT = json.dumps({"kind": "user", "content": "x" * 200}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    runtime = [sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", "memory"]
    servers = {
        "runtime on h11 + asyncio (old)": [*runtime, "--http", "h11", "--loop", "asyncio"],
        "runtime on h11 + uvloop": [*runtime, "--http", "h11", "--loop", "uvloop"],
        "runtime on httptools + uvloop": [*runtime, "--http", "httptools", "--loop", "uvloop"],
    }
    with tempfile.TemporaryDirectory() as directory:
        canned = Path(directory) / "canned.json"
        ack = {
            "ack": {
                "worker_ref": {"runtime_id": "r", "worker_id": "w"},
                "status": "running",
                "transcript_sequence": 1,
                "event_id": 3,
                "turn_id": None,
                "turn_phase": None,
            }
        }
        canned.write_text(json.dumps({"detail": {}, "ack": ack}))
        bare = [sys.executable, str(Path(__file__).parent / "_bare_server.py"), str(canned)]
        rates: dict[str, float] = {}
        baseline = start(bare)
        try:
            rates["bare handler on h11 + asyncio"] = _bare_rate(baseline.url, args)
        finally:
            baseline.stop()
        for label, command in servers.items():
            running = start(command, env={**os.environ})
            try:
                inputs_per_second(running.url, args.clients, 0.5, INPUT)  # warm-up
                rates[label] = inputs_per_second(running.url, args.clients, args.seconds, INPUT)
            finally:
                running.stop()
    base = rates["bare handler on h11 + asyncio"]
    print(f"http_stack: {args.clients} clients, {args.seconds:g} s each, memory store")
    for label, rate in rates.items():
        print(f"  {label:34} {rate:8.0f} inputs/s  {rate / base:.2f}x the bare handler")
    old, new = rates["runtime on h11 + asyncio (old)"], rates["runtime on httptools + uvloop"]
    verdict = "meets" if new / old >= GOAL else "MISSES"
    print(f"http_stack: httptools + uvloop {new / old:.2f}x the old stack ({verdict} {GOAL}x)")


def _bare_rate(url: str, args: argparse.Namespace) -> float:
    from rest_common import load

    load(url, "POST", "/v1/workers/w/input", INPUT, args.clients, 0.5)
    result = load(url, "POST", "/v1/workers/w/input", INPUT, args.clients, args.seconds)
    return result.rps


if __name__ == "__main__":
    main()
