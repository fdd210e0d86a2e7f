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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from runtime_common import Running, start

GOAL_RATIO = 0.6
WORKER = "bench-worker"
INPUT_BODY = json.dumps({"kind": "user", "content": "benchmark input"}).encode()


def bare_server(responses_file: str) -> None:
    """The baseline: starlette routes that return canned JSON, served by uvicorn."""
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
        app, lifespan="off", access_log=False, log_level="warning", server_header=False
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
