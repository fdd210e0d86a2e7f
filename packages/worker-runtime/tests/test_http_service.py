"""The server as a service: readiness, metrics, request ids and logs, on real servers."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from recording_persistence import RecordingPersistence
from rest_server import (
    TASK,
    ServerProcess,
    metrics,
    post_json,
    raw,
    running_server,
    sample,
    start_server,
)
from yoi_worker_runtime import Runtime, StoreIo

if TYPE_CHECKING:  # the server's modules import only where the http-server extra is
    from yoi_worker_runtime.http_server.options import ServerState

pytestmark = pytest.mark.feature("http-server")

TOKEN = "metrics-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)


# --- readiness --------------------------------------------------------------------------------


def test_ready_once_the_ready_line_is_out_and_public() -> None:
    with running_server("--store", "memory", "--local-token-env", "T", env={"T": TOKEN}) as server:
        answer = raw(server.url, "GET", "/v1/ready")
        assert (answer.status, answer.body) == (200, {"status": "ready"})
        assert raw(server.url, "GET", "/v1/health").status == 200


@pytest.fixture
def watched_app() -> Iterator[tuple[str, ServerState, RecordingPersistence]]:
    from app_server import serving_app
    from yoi_worker_runtime.http_server import create_app
    from yoi_worker_runtime.http_server.options import ServerState
    from yoi_worker_runtime.http_server.watched_store import WatchedPersistence

    store = RecordingPersistence()
    watched = WatchedPersistence(store)
    with Runtime.open(runtime_id="rt-ready", persistence=watched) as runtime:
        state = ServerState("starting", store=watched)
        with serving_app(create_app(runtime, state=state)) as url:
            yield url, state, store


def test_readiness_follows_the_server_and_the_store(
    watched_app: tuple[str, ServerState, RecordingPersistence],
) -> None:
    url, state, store = watched_app
    ready = raw(url, "GET", "/v1/ready")
    assert (ready.status, ready.body["status"]) == (503, "starting")
    state.serving()
    assert raw(url, "GET", "/v1/ready").body == {"status": "ready"}
    store.fail_next["prepare WorkerCreated"] = StoreIo("disk full")
    failed = post_json(url, "/v1/workers", {**TASK, "name": "w"})
    assert (failed.status, failed.code) == (500, "store_io")
    ready = raw(url, "GET", "/v1/ready")
    assert (ready.status, ready.body["status"]) == (503, "store_failing")
    assert ready.body["reason"] == "the last store write failed: store I/O failed: disk full"
    assert raw(url, "GET", "/v1/health").status == 200  # alive all the same
    samples = metrics(url)
    assert sample(samples, "yoi_store_write_failures_total", operation="prepare") == 1
    assert post_json(url, "/v1/workers", {**TASK, "name": "w"}).status == 201
    assert raw(url, "GET", "/v1/ready").status == 200  # a write went through again
    state.begin_shutdown()
    ready = raw(url, "GET", "/v1/ready")
    assert (ready.status, ready.body["status"]) == (503, "stopping")


def test_a_runtime_that_lost_its_lease_answers_503_to_all_but_probes_and_diagnostics(
    watched_app: tuple[str, ServerState, RecordingPersistence],
) -> None:
    url, state, store = watched_app
    state.serving()
    assert post_json(url, "/v1/workers", {**TASK, "name": "w"}).status == 201
    store.lose_lease("it expired before it was renewed")
    for probe in ("/v1/health", "/v1/ready"):
        answer = raw(url, "GET", probe)
        assert (answer.status, answer.body["status"]) == (503, "lease_lost")
        assert "it expired before it was renewed" in answer.body["reason"]
    for method, path, body in (
        ("POST", "/v1/workers/w/input", {"kind": "user", "content": "lost?"}),
        ("POST", "/v1/workers", {**TASK, "name": "v"}),
        ("GET", "/v1/workers/w", None),
        ("GET", "/v1/workers", None),
        ("GET", "/v1/runtime", None),
        ("GET", "/v1/events", None),
    ):
        answer = post_json(url, path, body) if method == "POST" else raw(url, method, path)
        assert (answer.status, answer.code) == (503, "lease_lost"), path
        assert "lost its hosting lease" in answer.body["error"]["message"]
    diagnostics = raw(url, "GET", "/v1/diagnostics").body["diagnostics"]
    assert "runtime.lease_lost" in [item["code"] for item in diagnostics]
    assert sample(metrics(url), "yoi_workers", status="running") == 1  # metrics still answer
    # Nothing reached the store after the loss.
    assert store.transcripts["w"] == []


def test_commit_batch_sizes_reach_their_histogram(
    watched_app: tuple[str, ServerState, RecordingPersistence],
) -> None:
    url, _, store = watched_app
    assert post_json(url, "/v1/workers", {**TASK, "name": "b"}).status == 201
    answer = post_json(url, "/v1/workers/b/input", {"kind": "user", "content": "x"})
    turn_id = answer.body["ack"]["turn_id"]
    turn = raw(url, "GET", f"/v1/workers/b/turns/{turn_id}?wait=10").body["turn"]
    assert turn["phase"] == "completed"
    samples = metrics(url)
    # One observation per commit, of the changes it carried: what the store saw.
    assert sample(samples, "yoi_store_commit_batch_size_count") == len(store.batches) >= 3
    assert sample(samples, "yoi_store_commit_batch_size_sum") == sum(store.batches)


# --- metrics ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def metered() -> Iterator[ServerProcess]:
    # h11: it hands any method token to the app (httptools refuses made-up ones itself), so
    # the method label's guard is exercised.
    flags = ("--store", "memory", "--local-token-env", "T", "--http", "h11")
    with running_server(*flags, env={"T": TOKEN}) as server:
        yield server


def test_metrics_need_the_token(metered: ServerProcess) -> None:
    answer = raw(metered.url, "GET", "/v1/metrics")
    assert (answer.status, answer.code) == (401, "unauthorized")


def test_metrics_count_requests_by_route_template_turns_workers_and_writes(
    metered: ServerProcess,
) -> None:
    assert post_json(metered.url, "/v1/workers", {**TASK, "name": "m1"}, token=TOKEN).status == 201
    with metered.client(TOKEN) as client:
        turn = client.send_input("m1", "hello").turn_id
        assert turn is not None
        assert client.wait_for_turn("m1", turn, timeout=30).phase == "completed"
    for path in ("/v1/workers/m1", "/v1/workers/m1", "/v1/workers/ghost", "/nowhere"):
        raw(metered.url, "GET", path, headers=AUTH)
    for method in ("BREW", "WHEN"):  # made-up methods do not grow the label set
        raw(metered.url, method, "/v1/workers", headers=AUTH)
    samples = metrics(metered.url, AUTH)
    requests = "yoi_http_requests_total"
    worker = "/v1/workers/{worker_id}"
    assert sample(samples, requests, method="GET", route=worker, status="200") == 2
    assert sample(samples, requests, method="GET", route=worker, status="404") == 1
    assert sample(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert sample(samples, requests, method="POST", route="/v1/workers", status="201") == 1
    assert sample(samples, requests, method="other", route="/v1/workers", status="405") == 2
    latency = "yoi_http_request_duration_seconds_count"
    assert sample(samples, latency, method="GET", route=worker) == 3
    assert sample(samples, "yoi_workers", status="running") == 1
    # Each turn once: started, then completed (the Runtime's events, counted as committed).
    assert sample(samples, "yoi_turns_started_total") == 1
    assert sample(samples, "yoi_turns_ended_total", outcome="completed") == 1
    writes = "yoi_store_write_duration_seconds_count"
    # Three changes, each prepared and committed: the creation, the input (which starts the
    # turn of an idle Worker in the same change) and the turn's end.
    assert sample(samples, writes, operation="prepare") == 3
    assert 1 <= sample(samples, writes, operation="commit") <= 3
    assert sample(samples, "yoi_http_connections") >= 1


def test_metrics_count_open_streams(metered: ServerProcess) -> None:
    from sse_support import SseReader

    reader = SseReader(metered.url, "/v1/events/stream", headers=AUTH)
    try:
        assert reader.status == 200
        _eventually(lambda: sample(metrics(metered.url, AUTH), "yoi_open_streams") == 1)
    finally:
        reader.close()
    _eventually(lambda: sample(metrics(metered.url, AUTH), "yoi_open_streams") == 0)


# --- request ids and logs ---------------------------------------------------------------------


@contextlib.contextmanager
def logging_server(*flags: str) -> Iterator[tuple[ServerProcess, list[str]]]:
    """A server whose stderr lines (its logs) fill the list once it has stopped."""
    server = start_server("--store", "memory", *flags)
    lines: list[str] = []
    try:
        yield server, lines
    finally:
        assert server.stop() == 0
        assert server.process.stderr is not None
        lines += server.process.stderr.read().splitlines()


def test_request_ids_are_echoed_in_headers_error_bodies_and_the_json_access_log() -> None:
    with logging_server("--access-log", "--log-format", "json") as (server, stderr):
        ghost = {"X-Request-ID": "trace-42.a:b"}
        given = raw(server.url, "GET", "/v1/workers/ghost", headers=ghost)
        assert given.headers["x-request-id"] == "trace-42.a:b"
        assert given.body["error"]["request_id"] == "trace-42.a:b"
        for insane in ("two words", "x" * 129, "caf\u00e9", ""):
            answer = raw(server.url, "GET", "/v1/runtime", headers={"X-Request-ID": insane})
            assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), insane
        generated = raw(server.url, "GET", "/v1/health").headers["x-request-id"]
    lines = [json.loads(line) for line in stderr]  # every line is JSON
    access = [line for line in lines if line["logger"].endswith(".access")]
    by_id = {line["request_id"]: line for line in access}
    assert by_id["trace-42.a:b"]["message"] == '"GET /v1/workers/ghost HTTP/1.1"'
    assert by_id["trace-42.a:b"]["status"] == 404
    assert by_id["trace-42.a:b"]["route"] == "/v1/workers/{worker_id}"
    assert by_id[generated]["route"] == "/v1/health"
    assert all(line["level"] == "info" and "duration_ms" in line for line in access)
    assert any("serving on" in line["message"] for line in lines)


def test_the_text_access_log_and_the_log_level() -> None:
    with logging_server("--access-log") as (server, lines):
        raw(server.url, "GET", '/v1/"status=200"', headers={"X-Request-ID": "text-1"})
        raw(server.url, "GET", "/v1/runtime", headers={"X-Request-ID": "text-2"})
    logged = [line for line in lines if "request_id=text-2" in line]
    assert len(logged) == 1
    assert '"GET /v1/runtime HTTP/1.1" status=200' in logged[0]
    assert "route=/v1/runtime" in logged[0]
    forged = next(line for line in lines if "request_id=text-1" in line)
    assert '"GET /v1/\\"status=200\\" HTTP/1.1" status=404' in forged  # quotes escaped
    with logging_server("--log-level", "warning") as (quiet, quiet_lines):
        raw(quiet.url, "GET", "/v1/runtime")
    assert quiet_lines == []  # no access log unless asked; no info line


def test_bad_log_flags_are_usage_errors(tmp_path: Path) -> None:
    import subprocess
    import sys

    for flags in (["--log-level", "loud"], ["--log-format", "xml"]):
        result = subprocess.run(
            [sys.executable, "-m", "yoi_worker_runtime.http_server", "--store=memory", *flags],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2 and "invalid choice" in result.stderr
