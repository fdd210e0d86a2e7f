"""The server process: graceful SIGTERM/SIGINT, load, and (with fs-store) restarts."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rest_server import (
    TASK,
    ServerProcess,
    held_request,
    post_json,
    running_server,
    start_server,
)
from yoi_worker_runtime import CreateWorkerRequest, RuntimeDefaultProfile, TaskIntent
from yoi_worker_runtime.client import RuntimeClient

pytestmark = pytest.mark.feature("http-server")


def _address(server: ServerProcess) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_an_in_flight_long_poll_finish_then_exits_0(sig: int) -> None:
    server = start_server("--store", "memory")
    with held_request(server.url, "/v1/events?cursor=now&wait=20") as answer:
        started = time.monotonic()
        assert server.stop(sig) == 0
        assert answer().status == 200
    assert time.monotonic() - started < 10  # the long-poll did not hold shutdown for 20 s


def test_sigterm_waits_for_a_request_whose_body_is_still_arriving() -> None:
    server = start_server("--store", "memory")
    post_json(server.url, "/v1/workers", {**TASK, "name": "slow"})
    body = json.dumps({"kind": "user", "content": "sent slowly"}).encode()
    with socket.create_connection(_address(server), timeout=20) as sock:
        head = (
            "POST /v1/workers/slow/input HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        sock.sendall(head.encode())
        # "100 Continue" comes when the handler starts reading the body: the request is in flight.
        assert _interim_answer(sock).startswith(b"HTTP/1.1 100 ")
        sock.sendall(body[:10])
        server.process.send_signal(signal.SIGTERM)
        _wait_until_refused(_address(server))  # shutting down: it accepts no new connection
        assert server.process.poll() is None  # but still finishing the request
        sock.sendall(body[10:])
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 200
        assert json.loads(response.read())["ack"]["transcript_sequence"] == 1
    assert server.process.wait(timeout=20) == 0


def _interim_answer(sock: socket.socket) -> bytes:
    """An interim (1xx) answer's head, read byte by byte so nothing after it is consumed."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, "the server closed the connection"
        head += byte
    return head


def _wait_until_refused(address: tuple[str, int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(address, timeout=timeout).close()
        # Refused: the listener is gone. Reset: it closed while this connection was still being
        # set up in its queue (a loaded machine's usual way to meet the same moment).
        except (ConnectionRefusedError, ConnectionResetError):
            return
        assert time.monotonic() < deadline, "the server kept accepting connections"


@pytest.mark.parametrize(
    "store", ["memory", pytest.param("fs", marks=pytest.mark.feature("fs-store"))]
)
def test_32_clients_for_5_seconds_lose_no_input(store: str, tmp_path: Path) -> None:
    env = {"YOI_RUNTIME_DIR": str(tmp_path / "run")}
    store_url = "memory" if store == "memory" else f"fs://{tmp_path / 'data'}"
    # Record-only Workers: this measures the write path of input (turns have their own tests).
    args = ("--store", store_url, "--runtime-id", "rt-load", "--default-profile", "none")
    sent: dict[str, list[str]] = {}
    with running_server(*args, env=env) as server:
        errors: list[str] = []
        deadline = time.monotonic() + 5.0

        def client_loop(index: int) -> None:
            with RuntimeClient(server.url, timeout=30) as client:
                try:
                    while time.monotonic() < deadline:
                        worker = client.create_worker(
                            CreateWorkerRequest(
                                intent=TaskIntent(objective=f"load {index}"),
                                profile=RuntimeDefaultProfile(),
                            )
                        )
                        contents = sent.setdefault(worker.worker_id, [])
                        for turn in range(3):
                            text = f"client {index} turn {turn}"
                            ack = client.send_input(worker.worker_id, text)
                            contents.append(text)
                            assert ack.transcript_sequence == turn + 1
                        page = client.transcript(worker.worker_id)
                        assert [item.content for item in page.items] == contents
                except Exception as exc:
                    errors.append(repr(exc))

        threads = [threading.Thread(target=client_loop, args=(index,)) for index in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(sent) >= 32
        _assert_holds(server, sent)
        assert server.stop() == 0
    if store == "fs":  # every acknowledged input also survives a restart
        with running_server(*args, env=env) as reopened:
            _assert_holds(reopened, sent)


def _assert_holds(server: ServerProcess, sent: dict[str, list[str]]) -> None:
    with server.client() as client:
        for worker_id, contents in sent.items():
            page = client.transcript(worker_id, limit=256)
            assert [item.content for item in page.items] == contents
        summary = client.summary()
        assert summary.worker_count == len(sent)
        assert summary.last_event_id >= 1 + 4 * len(sent)


@pytest.mark.feature("fs-store")
def test_a_restart_on_the_same_data_dir_keeps_workers_and_transcripts(tmp_path: Path) -> None:
    store = f"fs://{tmp_path / 'data'}"
    env = {"YOI_RUNTIME_DIR": str(tmp_path / "run")}
    args = ("--store", store, "--runtime-id", "rt-restart", "--default-profile", "none")
    with running_server(*args, env=env) as first, first.client() as client:
        client.create_worker(
            CreateWorkerRequest(
                name="keeper", intent=TaskIntent(objective="x"), profile=RuntimeDefaultProfile()
            )
        )
        client.send_input("keeper", "one")
        client.send_input("keeper", "two")
        assert first.stop() == 0
    with running_server(*args, env=env) as second, second.client() as client:
        assert second.ready["runtime_id"] == "rt-restart"
        assert [worker.worker_id for worker in client.list_workers()] == ["keeper"]
        page = client.transcript("keeper")
        assert [item.content for item in page.items] == ["one", "two"]
        kinds = [event.kind for event in client.events("start").events]
        assert kinds[:4] == [
            "runtime_started",
            "worker_created",
            "worker_input_accepted",
            "worker_input_accepted",
        ]


@pytest.mark.feature("fs-store")
def test_after_sigterm_the_runtimes_pods_probe_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yoi_pod_store.plugins import open_pod_store

    data = tmp_path / "data"
    env = {"YOI_RUNTIME_DIR": str(tmp_path / "run")}
    monkeypatch.setenv("YOI_RUNTIME_DIR", env["YOI_RUNTIME_DIR"])  # this process probes there too
    server = start_server("--store", f"fs://{data}", "--runtime-id", "rt-probe", env=env)
    with server.client() as client:
        client.create_worker(
            CreateWorkerRequest(
                name="probed", intent=TaskIntent(objective="x"), profile=RuntimeDefaultProfile()
            )
        )
        client.send_input("probed", "hello")
    pods = open_pod_store(f"fs://{data}")
    assert pods.probe("probed").live
    assert server.stop(signal.SIGTERM) == 0
    assert pods.probe("probed").stopped
    record = pods.read("probed")
    assert record is not None and record.hosting_runtime_id == "rt-probe"
