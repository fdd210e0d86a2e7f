"""Idle and half-open connections against a real server process over real sockets: headers
that never complete, idle kept-alive connections, a flood of 1,100 connections on a process
with 1,024 descriptors, and event streams that must outlive every one of those rules."""

from __future__ import annotations

import contextlib
import resource
import socket
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from rest_server import ServerProcess, metrics, raw, sample, start_server

pytestmark = pytest.mark.feature("http-server")

#: The server as a process with 1,024 descriptors (a common default), whatever the test has.
LOW_DESCRIPTOR_LIMIT = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)); "
    "sys.argv[0] = 'yoi_worker_runtime.http_server'; "
    "runpy.run_module('yoi_worker_runtime.http_server', run_name='__main__')"
)
FLOOD = 1100


def _address(server: ServerProcess) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@contextlib.contextmanager
def _server(*flags: str, command: list[str] | None = None) -> Iterator[ServerProcess]:
    server = start_server("--store", "memory", *flags, command=command)
    try:
        yield server
    finally:
        assert server.stop() == 0
        for stream in (server.process.stdout, server.process.stderr):
            if stream is not None:
                stream.close()


def _closed_after(sock: socket.socket, timeout: float) -> float:
    """Seconds until the server closes ``sock`` (reading whatever it sends first)."""
    started = time.monotonic()
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_headers_that_trickle_in_are_cut_off_at_the_header_timeout() -> None:
    with _server("--header-timeout", "1") as server:
        with socket.create_connection(_address(server)) as sock:
            started = time.monotonic()
            sent = 0
            with contextlib.suppress(OSError):
                for byte in b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ":
                    sock.sendall(bytes([byte]))  # one byte every 0.2 s: never complete in time
                    sent += 1
                    time.sleep(0.2)
                    if time.monotonic() - started > 5:
                        break
            closed = time.monotonic() - started + _closed_after(sock, 5)
        assert 0.9 < closed < 3, f"closed after {closed:.2f} s"
        assert sent < 20
        # Complete headers in time are answered, however slowly they came.
        with socket.create_connection(_address(server)) as sock:
            for part in (b"GET /v1/health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
                sock.sendall(part)
                time.sleep(0.2)
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() -> None:
    with _server("--keep-alive-timeout", "1") as server:
        with socket.create_connection(_address(server)) as sock:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            idle = _closed_after(sock, 5)
        assert 0.8 < idle < 3, f"closed after {idle:.2f} s"


def test_an_event_stream_outlives_the_header_and_keep_alive_timeouts() -> None:
    from sse_support import SseReader

    flags = ("--header-timeout", "1", "--keep-alive-timeout", "1", "--stream-heartbeat", "1")
    with _server(*flags) as server:
        reader = SseReader(server.url, "/v1/events/stream")
        try:
            deadline = time.monotonic() + 3.5  # well past both timeouts
            comments = []
            while time.monotonic() < deadline:
                comments.append(reader.next_frame(timeout=5).comment)
            assert comments.count("heartbeat") >= 2
            raw(server.url, "POST", "/v1/runtime/stop")
            frames = reader.frames_until(lambda frame: frame.event == "runtime_stopped", timeout=5)
            assert frames[-1].event == "runtime_stopped"
        finally:
            reader.close()


def _raise_own_descriptor_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def test_health_answers_under_a_flood_of_idle_connections_on_1024_descriptors() -> None:
    _raise_own_descriptor_limit(FLOOD + 256)
    command = [sys.executable, "-c", LOW_DESCRIPTOR_LIMIT]
    with _server("--header-timeout", "3", command=command) as server:
        flood: list[socket.socket] = []
        try:
            for _ in range(FLOOD):
                flood.append(socket.create_connection(_address(server), timeout=10))
            for _ in range(10):
                started = time.monotonic()
                answer = raw(server.url, "GET", "/v1/health", timeout=10)
                assert answer.status == 200
                assert time.monotonic() - started < 5
            samples = metrics(server.url)
            open_now = sample(samples, "yoi_http_connections")
            assert open_now <= 1024 - 256, open_now  # the cap: below the descriptor limit
            assert sample(samples, "yoi_http_connections_closed_total", reason="evicted") > 0
            # Then every flood connection is closed by the header deadline.
            for sock in flood:
                assert _closed_after(sock, 10) < 10
        finally:
            for sock in flood:
                sock.close()
        assert raw(server.url, "GET", "/v1/health").status == 200


def test_a_connection_cap_over_the_descriptor_limit_is_a_usage_error() -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", LOW_DESCRIPTOR_LIMIT, "--store=memory", "--max-connections=5000"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "well below this process's descriptor limit (1024)" in result.stderr
