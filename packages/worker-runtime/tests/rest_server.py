"""Starting a real REST server process for the tests and talking raw HTTP to it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from yoi_worker_runtime.client import RuntimeClient

READY_TIMEOUT = 30.0


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    ready: dict[str, Any]

    @property
    def url(self) -> str:
        url: str = self.ready["url"]
        return url

    def client(self, token: str | None = None) -> RuntimeClient:
        return RuntimeClient(self.url, token=token)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def read_ready_line(process: subprocess.Popen[str], timeout: float = READY_TIMEOUT) -> str:
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        process.kill()
        raise AssertionError("the server printed no ready line") from None


def start_server(
    *args: str, env: dict[str, str] | None = None, command: list[str] | None = None
) -> ServerProcess:
    process = subprocess.Popen(
        [*(command or [sys.executable, "-m", "yoi_worker_runtime.http_server"]), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line = read_ready_line(process)
    if not line:
        process.wait(timeout=10)
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"the server exited with {process.returncode}: {stderr}")
    return ServerProcess(process, json.loads(line))


@contextlib.contextmanager
def running_server(*args: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    server = start_server(*args, env=env)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
        for stream in (server.process.stdout, server.process.stderr):
            if stream is not None:
                stream.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str:
        code: str = self.body["error"]["code"]
        return code


def raw(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Answer:
    """One request with exactly the given headers and body bytes."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        headers = headers or {}
        chunked = headers.get("Transfer-Encoding") == "chunked"
        connection.request(method, path, body=body, headers=headers, encode_chunked=chunked)
        response = connection.getresponse()
        data = response.read()
        found = {key.lower(): value for key, value in response.getheaders()}
    finally:
        connection.close()
    decoded = json.loads(data) if data else None
    return Answer(response.status, found, decoded)


@contextlib.contextmanager
def held_request(url: str, path: str, timeout: float = 30.0) -> Iterator[Callable[[], Answer]]:
    """``GET path``, in the server's hands when the block starts; call the result for its answer.

    It goes out pipelined behind ``GET /v1/health`` on one connection, in one write. The server
    starts a pipelined request in the same step that completes the answer before it, so once
    that answer is read the second request is in flight: whatever the test does next (an event,
    a signal) finds it in the server, however slow the machine.
    """
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    host = f"Host: {parts.hostname}:{parts.port}\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(
            f"GET /v1/health HTTP/1.1\r\n{host}\r\nGET {path} HTTP/1.1\r\n{host}\r\n".encode()
        )
        # The first answer is all there is to read until the held request ends.
        assert _answer_from(sock).status == 200
        yield lambda: _answer_from(sock)


def _answer_from(sock: socket.socket) -> Answer:
    response = http.client.HTTPResponse(sock)
    response.begin()
    data = response.read()
    found = {key.lower(): value for key, value in response.getheaders()}
    return Answer(response.status, found, json.loads(data) if data else None)


def post_json(url: str, path: str, document: object, token: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return raw(url, "POST", path, json.dumps(document).encode(), headers)


#: The samples of ``GET /v1/metrics``: (name, labels) -> value.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics(url: str, headers: dict[str, str] | None = None) -> Samples:
    """Every sample ``GET /v1/metrics`` answers, parsed by prometheus-client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.request("GET", "/v1/metrics", headers=headers or {})
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    assert response.status == 200, text
    assert response.getheader("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: a counter nothing has counted yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


TASK = {"intent": {"kind": "task", "objective": "review"}, "profile": {"kind": "runtime_default"}}
