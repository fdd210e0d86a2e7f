"""What a careless or hostile client sends, against a real server: lone surrogates in any text,
repeated JSON keys, path and query bytes that are not UTF-8, trailing slashes; and the health
of a Runtime that has stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from rest_server import TASK, ServerProcess, post_json, raw, running_server
from yoi_worker_runtime import (
    AssistantIntent,
    CreateWorkerRequest,
    EventCursor,
    InvalidRequest,
    NamedProfile,
)

pytestmark = pytest.mark.feature("http-server")

#: A lone UTF-16 surrogate: what a JavaScript client makes of a broken string.
SURROGATE = "\ud800"
JSON = {"Content-Type": "application/json"}

#: Every request body with every optional text field present; each string in them is tried.
CREATES: list[dict[str, Any]] = [
    {
        "intent": {"kind": "assistant", "purpose": "help"},
        "profile": {"kind": "builtin", "value": "none"},
        "name": "named",
        "config_bundle": {"id": "bundle"},
        "requested_capabilities": [{"name": "shell", "reason": "tests"}],
        "workspace_refs": [{"name": "repo", "reference": "/src"}],
        "mount_refs": [{"name": "data", "reference": "/data"}],
        "on_busy": "reject",
    },
    {
        "intent": {"kind": "role", "role": "reviewer", "purpose": "p"},
        "profile": {"kind": "named", "value": "n"},
    },
    {"intent": {"kind": "task", "objective": "o"}, "profile": {"kind": "runtime_default"}},
]
BODIES: list[tuple[str, dict[str, Any]]] = [
    *(("/v1/workers", create) for create in CREATES),
    ("/v1/workers/target/input", {"kind": "user", "content": "hello", "on_busy": "enqueue"}),
    ("/v1/workers/target/stop", {"reason": "done"}),
    ("/v1/workers/target/cancel", {"reason": "done"}),
]


def _strings(document: Any, path: str = "$") -> Iterator[tuple[str, list[Any]]]:
    """(JSON path, key path) of every string in a document."""
    if isinstance(document, str):
        yield path, []
    elif isinstance(document, dict):
        for key, value in document.items():
            for found, keys in _strings(value, f"{path}.{key}"):
                yield found, [key, *keys]
    elif isinstance(document, list):
        for index, value in enumerate(document):
            for found, keys in _strings(value, f"{path}[{index}]"):
                yield found, [index, *keys]


def _replaced(document: Any, keys: list[Any], value: str) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return copy


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server(
        "--store", "memory", "--runtime-id", "rt-hard", "--default-profile", "none"
    ) as running:
        assert post_json(running.url, "/v1/workers", {**TASK, "name": "target"}).status == 201
        yield running


def _state(server: ServerProcess) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    summary = raw(server.url, "GET", "/v1/runtime").body["runtime"]
    workers = raw(server.url, "GET", "/v1/workers").body["workers"]
    transcript = raw(server.url, "GET", "/v1/workers/target/transcript").body["transcript"]
    return summary["last_event_id"], [worker["worker_id"] for worker in workers], transcript


def test_a_lone_surrogate_in_any_text_field_is_a_400_naming_it_and_writes_nothing(
    server: ServerProcess,
) -> None:
    before = _state(server)
    tried = 0
    for path, document in BODIES:
        for field, keys in _strings(document):
            body = json.dumps(_replaced(document, keys, f"a{SURROGATE}b")).encode()
            assert b"\\ud800" in body  # the JSON escape itself, as a client sends it
            answer = raw(server.url, "POST", path, body, JSON)
            assert answer.status == 400, (path, field, answer.body)
            # A union member's tag is reported at the member: $.intent, not $.intent.kind.
            named = field.removesuffix(".kind") if field.count(".") > 1 else field
            assert f"{named}:" in answer.body["error"]["message"], (field, answer.body)
            tried += 1
    assert tried == 26
    assert _state(server) == before
    assert raw(server.url, "GET", "/v1/workers").status == 200


def test_a_lone_surrogate_in_a_key_is_refused_with_a_readable_answer(
    server: ServerProcess,
) -> None:
    body = b'{"kind":"user","content":"x","\\udc00":1}'
    answer = raw(server.url, "POST", "/v1/workers/target/input", body, JSON)
    assert (answer.status, answer.code) == (400, "invalid_request")
    assert "unknown field" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "code", "named"),
    [
        ("/v1/workers/%ED%A0%80", "invalid_request", "path parameter worker_id"),
        ("/v1/workers/target/turns/%ED%A0%80", "invalid_request", "path parameter turn_id"),
        ("/v1/workers/target/turns/%FF", "invalid_request", "path parameter turn_id"),
        ("/v1/workers/target%2Ftranscript", "invalid_request", "a path parameter holds a '/'"),
        ("/v1/events?runtime_id=%ED%A0%80", "invalid_query", "query parameter 'runtime_id'"),
        ("/v1/events?%ED%A0%80=1", "invalid_query", "a query parameter name"),
        ("/v1/workers/target/transcript?start=%C0", "invalid_query", "query parameter 'start'"),
    ],
)
def test_path_and_query_bytes_that_are_not_utf8_are_a_400_naming_them(
    server: ServerProcess, path: str, code: str, named: str
) -> None:
    answer = raw(server.url, "GET", path)
    assert (answer.status, answer.code) == (400, code), answer.body
    assert named in answer.body["error"]["message"]


def test_a_repeated_json_key_is_refused_and_writes_nothing(server: ServerProcess) -> None:
    before = _state(server)
    for path, body in [
        ("/v1/workers/target/input", b'{"kind":"bogus","kind":"user","content":"x"}'),
        (
            "/v1/workers",
            b'{"intent":{"kind":"task","objective":"a","objective":"b"},'
            b'"profile":{"kind":"runtime_default"}}',
        ),
        ("/v1/workers/target/stop", b'{"reason":"a","reason":"a"}'),
    ]:
        answer = raw(server.url, "POST", path, body, JSON)
        assert (answer.status, answer.code) == (400, "invalid_json"), answer.body
        assert "is repeated" in answer.body["error"]["message"]
    assert _state(server) == before


@pytest.mark.parametrize(
    "path", ["/v1/workers/target/", "/v1/workers/", "/v1/health/", "/v1/runtime/stop/"]
)
def test_a_trailing_slash_is_a_json_404_never_a_redirect(server: ServerProcess, path: str) -> None:
    answer = raw(server.url, "GET", path, headers={"Host": "attacker.example"})
    assert (answer.status, answer.code) == (404, "not_found")
    assert "location" not in answer.headers


def test_the_client_refuses_a_lone_surrogate_before_sending_anything(
    server: ServerProcess,
) -> None:
    before = _state(server)
    with server.client() as client:
        with pytest.raises(InvalidRequest, match=r"\$\.content: contains a lone surrogate"):
            client.send_input("target", f"x{SURROGATE}")
        with pytest.raises(InvalidRequest, match=r"\$\.profile\.value: contains a lone"):
            client.create_worker(
                CreateWorkerRequest(intent=AssistantIntent(), profile=NamedProfile(value=SURROGATE))
            )
        with pytest.raises(InvalidRequest, match=r"\$\.reason: contains a lone surrogate"):
            client.stop_worker("target", reason=SURROGATE)
        with pytest.raises(InvalidRequest, match=r"worker id contains a lone surrogate"):
            client.worker_detail(SURROGATE)
        with pytest.raises(InvalidRequest, match=r"turn id contains a lone surrogate"):
            client.turn("target", SURROGATE)
        with pytest.raises(InvalidRequest, match=r"query parameter runtime_id contains a lone"):
            client.events(EventCursor(runtime_id=SURROGATE, next_event_id=1))
    assert _state(server) == before


def test_health_answers_503_once_the_runtime_has_stopped() -> None:
    with running_server("--store", "memory") as server:
        assert raw(server.url, "GET", "/v1/health").body == {"status": "ok"}
        assert raw(server.url, "POST", "/v1/runtime/stop").status == 200
        health = raw(server.url, "GET", "/v1/health")
        assert health.status == 503
        assert health.body["status"] == "stopped"
        assert "has stopped" in health.body["reason"]
        ready = raw(server.url, "GET", "/v1/ready")
        assert (ready.status, ready.body["status"]) == (503, "stopped")
        assert post_json(server.url, "/v1/workers", TASK).status == 409
        with server.client() as client:  # the client reads the probes, 503 included
            assert client.health()["status"] == "stopped"
            assert client.ready()["status"] == "stopped"
