"""The REST server as a real process on loopback: round trip, typed errors, token, long-poll."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_server import (
    TASK,
    ServerProcess,
    held_request,
    post_json,
    raw,
    running_server,
    start_server,
)
from yoi_worker_runtime import (
    CreateWorkerRequest,
    LimitTooLarge,
    RoleIntent,
    RuntimeDefaultProfile,
    RuntimeStopped,
    TaskIntent,
    WorkerConflict,
    WorkerNotFound,
    WorkerNotRunning,
)
from yoi_worker_runtime.client import RuntimeClient, RuntimeUnreachable, Unauthorized

pytestmark = pytest.mark.feature("http-server")

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    # The reference's API round trips: Workers that record input (turns: test_http_turns.py).
    with running_server(
        "--store",
        "memory",
        "--runtime-id",
        "rt-api",
        "--max-body-bytes",
        "4096",
        "--default-profile",
        "none",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    with running_server("--store", "memory", "--local-token-file", str(token_file)) as running:
        yield running


def test_ready_line_names_a_loopback_url_the_runtime_and_the_pid(server: ServerProcess) -> None:
    ready = server.ready
    assert ready["event"] == "ready"
    assert ready["url"].startswith("http://127.0.0.1:")
    assert not ready["url"].endswith(":0")
    assert ready["runtime_id"] == "rt-api"
    assert ready["pid"] == server.process.pid
    assert raw(server.url, "GET", "/v1/health").body == {"status": "ok"}


def test_upstream_round_trip_through_the_typed_client(server: ServerProcess) -> None:
    with server.client() as client:
        created = client.create_worker(
            CreateWorkerRequest(
                name="round-trip",
                intent=TaskIntent(objective="review the pull request"),
                profile=RuntimeDefaultProfile(),
            )
        )
        assert created.worker_id == "round-trip" and created.status == "running"
        assert created.worker_ref.runtime_id == "rt-api"
        ack = client.send_input("round-trip", "please start")
        assert ack.transcript_sequence == 1
        client.send_input("round-trip", "be careful", kind="system")
        page = client.transcript("round-trip", start=0, limit=1)
        assert [item.content for item in page.items] == ["please start"]
        assert page.next_start == 1 and page.total_items == 2
        rest = client.transcript("round-trip", start=1)
        assert [(item.role, item.content) for item in rest.items] == [("system", "be careful")]
        assert rest.next_start is None and rest.limit == 256
        assert "round-trip" in [worker.worker_id for worker in client.list_workers()]
        assert client.worker_detail("round-trip").transcript_len == 2
        stopped = client.stop_worker("round-trip", reason="done")
        assert (stopped.status, stopped.changed) == ("stopped", True)
        again = client.cancel_worker("round-trip")
        assert (again.status, again.changed) == ("stopped", False)
        with pytest.raises(WorkerNotRunning, match="round-trip is not running"):
            client.send_input("round-trip", "too late")
        with pytest.raises(WorkerConflict):
            client.create_worker(
                CreateWorkerRequest(
                    name="round-trip", intent=RoleIntent(role="r"), profile=RuntimeDefaultProfile()
                )
            )
        with pytest.raises(WorkerNotFound, match="worker ghost was not found in runtime rt-api"):
            client.worker_detail("ghost")
        with pytest.raises(LimitTooLarge, match="limit 257 exceeds maximum 256"):
            client.transcript("round-trip", limit=257)
        summary = client.summary()
        assert summary.runtime_id == "rt-api" and summary.backend == "memory"
        codes = {item.code for item in client.diagnostics()}
        assert {"runtime.local_default_resources", "worker.tools_less"} <= codes
        kinds = [event.kind for event in client.events("start").events]
        assert kinds[:2] == ["runtime_started", "worker_created"]
        assert "worker_input_accepted" in kinds and "worker_stopped" in kinds


def test_create_answers_201_with_location_and_the_reference_shapes(server: ServerProcess) -> None:
    answer = post_json(server.url, "/v1/workers", {**TASK, "name": "shapes"})
    assert answer.status == 201
    assert answer.headers["location"] == "/v1/workers/shapes"
    assert answer.headers["content-type"] == "application/json"
    worker = answer.body["worker"]
    assert worker["worker_ref"] == {"runtime_id": "rt-api", "worker_id": "shapes"}
    assert worker["intent"] == {"kind": "task", "objective": "review"}
    ack = post_json(server.url, "/v1/workers/shapes/input", {"kind": "user", "content": "hi"})
    assert ack.status == 200
    assert set(ack.body["ack"]) == {
        "worker_ref",
        "status",
        "transcript_sequence",
        "event_id",
        "turn_id",
        "turn_phase",
    }
    page = raw(server.url, "GET", "/v1/workers/shapes/transcript?start=0&limit=5").body
    assert set(page["transcript"]) == {
        "worker_ref",
        "start",
        "limit",
        "total_items",
        "items",
        "next_start",
    }
    assert page["transcript"]["next_start"] is None
    stop = raw(server.url, "POST", "/v1/workers/shapes/stop")  # no body at all is fine
    assert stop.status == 200 and stop.body["ack"]["status"] == "stopped"


def test_every_error_is_typed_json_with_its_status(server: ServerProcess) -> None:
    url = server.url
    post_json(url, "/v1/workers", {**TASK, "name": "errs"})
    cases = [
        (raw(url, "GET", "/v1/nothing-here"), 404, "not_found"),
        (raw(url, "GET", "/"), 404, "not_found"),
        (raw(url, "DELETE", "/v1/workers"), 405, "method_not_allowed"),
        (raw(url, "PUT", "/v1/workers/errs/input"), 405, "method_not_allowed"),
        (raw(url, "GET", "/v1/workers/ghost"), 404, "worker_not_found"),
        (raw(url, "GET", "/v1/workers/-bad"), 400, "invalid_worker_id"),
        (raw(url, "GET", "/v1/workers/errs/transcript?limit=abc"), 400, "invalid_query"),
        (raw(url, "GET", "/v1/workers/errs/transcript?start=-1"), 400, "invalid_query"),
        (raw(url, "GET", "/v1/workers/errs/transcript?bogus=1"), 400, "invalid_query"),
        (raw(url, "GET", "/v1/workers/errs/transcript?limit=0"), 400, "invalid_request"),
        (raw(url, "GET", "/v1/workers/errs/transcript?limit=999"), 400, "limit_too_large"),
        (raw(url, "GET", "/v1/events?wait=31"), 400, "invalid_query"),
        (raw(url, "GET", "/v1/events?cursor=later"), 400, "invalid_query"),
        (raw(url, "GET", "/v1/events?cursor=1&runtime_id=other"), 400, "wrong_runtime_cursor"),
        (raw(url, "GET", "/v1/events?cursor=9999"), 400, "invalid_request"),
        (
            raw(url, "POST", "/v1/workers", b"{}", {"Content-Type": "text/plain"}),
            415,
            "unsupported_media_type",
        ),
        (raw(url, "POST", "/v1/workers", b"{}"), 415, "unsupported_media_type"),
        (
            raw(url, "POST", "/v1/workers", b"{nope", {"Content-Type": "application/json"}),
            400,
            "invalid_json",
        ),
        (
            raw(url, "POST", "/v1/workers", b'{"a": NaN}', {"Content-Type": "application/json"}),
            400,
            "invalid_json",
        ),
        (post_json(url, "/v1/workers", {"intent": {"kind": "task"}}), 400, "invalid_request"),
        (post_json(url, "/v1/workers", {**TASK, "name": "a/b"}), 400, "invalid_request"),
        (post_json(url, "/v1/workers", {**TASK, "name": "errs"}), 409, "worker_conflict"),
        (
            post_json(url, "/v1/workers", {**TASK, "name": "x" * 5000}),
            413,
            "payload_too_large",
        ),
    ]
    for answer, status, code in cases:
        assert (answer.status, answer.code) == (status, code), answer.body
        assert answer.headers["content-type"] == "application/json"
        assert set(answer.body) == {"error"}
        assert set(answer.body["error"]) == {"code", "message", "request_id"}
        assert answer.body["error"]["request_id"] == answer.headers["x-request-id"]
    assert "allowed: " in cases[2][0].body["error"]["message"]
    assert "POST" in cases[2][0].headers["allow"]


def test_a_body_over_the_limit_without_content_length_is_413(server: ServerProcess) -> None:
    chunks = (b'{"kind": "user", "content": "' + b"x" * 1000 for _ in range(8))
    answer = raw(
        server.url,
        "POST",
        "/v1/workers/anything/input",
        body=chunks,  # type: ignore[arg-type]  # http.client sends an iterable chunked
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert (answer.status, answer.code) == (413, "payload_too_large")


def test_the_token_is_checked_after_routing(secured: ServerProcess) -> None:
    url = secured.url
    assert secured.ready["auth"] == "bearer"
    missing = raw(url, "GET", "/v1/runtime")
    assert (missing.status, missing.code) == (401, "unauthorized")
    assert missing.body["error"]["message"] == "missing or invalid local Runtime bearer token"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = raw(url, "GET", "/v1/workers", headers={"Authorization": "Bearer nope"})
    assert (wrong.status, wrong.code) == (401, "unauthorized")
    basic = raw(url, "GET", "/v1/workers", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status == 401
    assert raw(url, "GET", "/v1/nowhere").status == 404  # unknown path: 404, not 401
    assert raw(url, "GET", "/v1/health").status == 200  # readiness needs no token
    right = raw(url, "GET", "/v1/workers", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status == 200 and right.body == {"workers": [], "next_after": None}
    lower = raw(url, "GET", "/v1/workers", headers={"Authorization": f"bearer {TOKEN}"})
    assert lower.status == 200
    blocked = post_json(url, "/v1/workers", TASK)
    assert blocked.status == 401
    with pytest.raises(Unauthorized):
        secured.client().list_workers()
    assert secured.client(TOKEN).list_workers() == []


def test_the_token_never_reaches_the_output(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN, encoding="utf-8")
    server = start_server("--store", "memory", "--local-token-file", str(token_file))
    raw(server.url, "GET", "/v1/workers", headers={"Authorization": "Bearer wrong"})
    raw(server.url, "GET", "/v1/workers", headers={"Authorization": f"Bearer {TOKEN}"})
    assert server.stop() == 0
    assert server.process.stdout is not None and server.process.stderr is not None
    output = server.process.stdout.read() + server.process.stderr.read()
    assert TOKEN not in output and "wrong" not in output
    assert TOKEN not in json.dumps(server.ready)


def test_token_from_an_environment_variable(tmp_path: Path) -> None:
    with running_server(
        "--store", "memory", "--local-token-env", "MY_TOKEN", env={"MY_TOKEN": TOKEN}
    ) as server:
        assert raw(server.url, "GET", "/v1/runtime").status == 401
        assert server.client(TOKEN).summary().status == "running"


def test_a_missing_token_variable_is_a_usage_error() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            *(sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", "memory"),
            *("--local-token-env", "YOI_TEST_UNSET_TOKEN_VAR"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "YOI_TEST_UNSET_TOKEN_VAR is not set or empty" in result.stderr
    assert result.stdout == ""


def test_a_foreign_host_header_is_refused(server: ServerProcess) -> None:
    answer = raw(server.url, "GET", "/v1/runtime", headers={"Host": "attacker.example:80"})
    assert (answer.status, answer.code) == (400, "invalid_request")
    assert raw(server.url, "GET", "/v1/runtime", headers={"Host": "localhost"}).status == 200


def test_events_long_poll_returns_as_soon_as_an_event_arrives(server: ServerProcess) -> None:
    with server.client() as client:
        cursor = client.events("now").cursor
        path = f"/v1/events?cursor={cursor.next_event_id}&wait=20"
        with held_request(server.url, path) as answer:
            started = time.monotonic()
            client.create_worker(
                CreateWorkerRequest(
                    intent=TaskIntent(objective="x"), profile=RuntimeDefaultProfile()
                )
            )
            held = answer()
        assert held.status == 200
        batch = held.body["batch"]
        assert [event["kind"] for event in batch["events"]] == ["worker_created"]
        assert time.monotonic() - started < 5  # woken by the event, not at the 20 s wait
        after = client.events(cursor).cursor
        assert batch["cursor"]["next_event_id"] == after.next_event_id == cursor.next_event_id + 1
        started = time.monotonic()
        empty = client.events(after, wait=0.5)
        assert empty.events == () and 0.4 < time.monotonic() - started < 5


def test_the_openapi_document_comes_from_the_models(server: ServerProcess) -> None:
    from yoi_worker_runtime import schema_components

    document = raw(server.url, "GET", "/v1/openapi.json").body
    assert document["openapi"].startswith("3.1")
    components = document["components"]["schemas"]
    for name, schema in schema_components().items():
        assert components[name] == schema
    create = document["paths"]["/v1/workers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateWorkerRequest"
    }
    assert set(create["responses"]) >= {"201", "400", "409", "413", "415"}


def test_stopping_the_runtime_keeps_reads_and_refuses_mutations(tmp_path: Path) -> None:
    with running_server("--store", "memory") as server, server.client() as client:
        client.create_worker(
            CreateWorkerRequest(
                name="w", intent=TaskIntent(objective="x"), profile=RuntimeDefaultProfile()
            )
        )
        ack = client.stop_runtime()
        assert ack.status == "stopped" and ack.changed
        assert client.worker_detail("w").status == "stopped"
        with pytest.raises(RuntimeStopped):
            client.send_input("w", "hello")
        answer = post_json(server.url, "/v1/workers", TASK)
        assert (answer.status, answer.code) == (409, "runtime_stopped")


def test_unix_socket_and_ready_file(tmp_path: Path) -> None:
    socket_path = tmp_path / "rt.sock"
    ready_file = tmp_path / "ready.json"
    with running_server(
        "--store", "memory", "--unix-socket", str(socket_path), "--ready-file", str(ready_file)
    ) as server:
        assert json.loads(ready_file.read_text(encoding="utf-8")) == server.ready
        assert server.url.startswith("http+unix://")
        assert server.ready["unix_socket"] == str(socket_path)
        assert socket_path.stat().st_mode & 0o077 == 0  # only the owner may connect
        with RuntimeClient.for_unix_socket(str(socket_path)) as client:
            worker = client.create_worker(
                CreateWorkerRequest(
                    intent=TaskIntent(objective="x"), profile=RuntimeDefaultProfile()
                )
            )
            assert client.send_input(worker.worker_id, "over a socket").transcript_sequence == 1
        assert server.stop() == 0
    assert not socket_path.exists() and not ready_file.exists()


def test_the_client_reports_an_unreachable_runtime() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RuntimeUnreachable, match="cannot reach the Runtime at"):
        RuntimeClient(f"http://127.0.0.1:{port}", timeout=2).summary()
