"""JSON shapes, the strict codec and the generated JSON Schema (checked against real output)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from yoi_worker_runtime import (
    MODELS,
    BuiltinProfile,
    CreateWorkerRequest,
    EventCursor,
    InvalidRequest,
    LifecycleRequest,
    RequestedCapability,
    Runtime,
    RuntimeSummary,
    TaskIntent,
    TranscriptProjection,
    WorkerDetail,
    WorkerInput,
    from_json,
    json_schema,
    schema_components,
    to_json,
)
from yoi_worker_runtime.profiles import parse_config
from yoi_worker_runtime.tools import Tool


def _validate(instance: Any, schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """The subset of JSON Schema 2020-12 the generator emits; returns the problems found."""
    if "$ref" in schema:
        ref = schema["$ref"]
        target = root if ref == "#" else root["$defs"][ref.removeprefix("#/$defs/")]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return _validate(instance, target, root) + _validate(instance, siblings, root)
    problems: list[str] = []
    if "anyOf" in schema and not any(
        not _validate(instance, option, root) for option in schema["anyOf"]
    ):
        problems.append(f"{instance!r} matches no anyOf option")
    if "oneOf" in schema:
        matches = sum(not _validate(instance, option, root) for option in schema["oneOf"])
        if matches != 1:
            problems.append(f"{instance!r} matches {matches} oneOf options")
    kind = schema.get("type")
    checks = {
        "string": lambda: isinstance(instance, str),
        "integer": lambda: isinstance(instance, int) and not isinstance(instance, bool),
        "boolean": lambda: isinstance(instance, bool),
        "null": lambda: instance is None,
        "array": lambda: isinstance(instance, list),
        "object": lambda: isinstance(instance, dict),
    }
    if kind is not None and not checks[kind]():
        return [*problems, f"{instance!r} is not {kind}"]
    if "const" in schema and instance != schema["const"]:
        problems.append(f"{instance!r} != {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{instance!r} not in {schema['enum']}")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            problems.append(f"{instance!r} too short")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            problems.append(f"{instance!r} does not match {schema['pattern']}")
    if isinstance(instance, int) and "minimum" in schema and instance < schema["minimum"]:
        problems.append(f"{instance} < {schema['minimum']}")
    if isinstance(instance, list) and "items" in schema:
        for item in instance:
            problems += _validate(item, schema["items"], root)
    if isinstance(instance, dict) and "properties" in schema:
        properties = schema["properties"]
        problems += [
            f"missing {name}" for name in schema.get("required", []) if name not in instance
        ]
        if schema.get("additionalProperties") is False:
            problems += [f"unexpected {name}" for name in instance if name not in properties]
        for name, value in instance.items():
            if name in properties:
                problems += _validate(value, properties[name], root)
    return problems


def _conforms(value: object) -> list[str]:
    schema = json_schema(type(value))
    return _validate(json.loads(json.dumps(to_json(value))), schema, schema)


@pytest.fixture
def busy_runtime() -> Runtime:
    runtime = Runtime.open(
        runtime_id="rt",
        config=parse_config({"profiles": {"n": {"engine": "none"}}, "allow_tools": ["shell"]}),
        tools={"shell": Tool(name="shell", description="runs commands", run=lambda a, c: "")},
    )
    ref = runtime.create_worker(
        CreateWorkerRequest(
            name="a",
            intent=TaskIntent(objective="go"),
            profile=BuiltinProfile(value="none"),
            requested_capabilities=(RequestedCapability(name="shell", reason="tests"),),
        )
    ).worker_ref
    runtime.send_input(ref, WorkerInput(kind="user", content="hi"))
    runtime.stop_worker(ref, reason="done")
    runtime.create_worker(
        from_json(
            CreateWorkerRequest,
            {"intent": {"kind": "role", "role": "r"}, "profile": {"kind": "named", "value": "n"}},
        )
    )
    return runtime


def test_real_outputs_conform_to_their_schema(busy_runtime: Runtime) -> None:
    runtime = busy_runtime
    ref = runtime.worker_ref("a")
    values: list[object] = [
        runtime.summary(),
        runtime.worker_detail(ref),
        runtime.transcript_projection(ref),
        runtime.read_events(runtime.event_cursor_from_start()),
        *runtime.list_workers(),
        *runtime.diagnostics(),
        runtime.stop_worker(ref),
        runtime.stop_runtime(),
    ]
    for value in values:
        assert _conforms(value) == [], type(value).__name__


def test_the_schema_rejects_what_the_codec_rejects() -> None:
    schema = json_schema(CreateWorkerRequest)
    bad = {
        "intent": {"kind": "task", "objective": " "},
        "profile": {"kind": "runtime_default"},
        "extra": 1,
    }
    assert _validate(bad, schema, schema)
    with pytest.raises(InvalidRequest):
        from_json(CreateWorkerRequest, bad)


def test_json_shapes_match_the_reference(busy_runtime: Runtime) -> None:
    detail = to_json(busy_runtime.worker_detail(busy_runtime.worker_ref("a")))
    assert detail["worker_ref"] == {"runtime_id": "rt", "worker_id": "a"}
    assert detail["intent"] == {"kind": "task", "objective": "go"}
    assert detail["profile"] == {"kind": "builtin", "value": "none"}
    assert detail["requested_capabilities"] == [{"name": "shell", "reason": "tests"}]
    assert "config_bundle" not in detail  # optional fields are left out when absent
    assert {
        "transcript_len",
        "last_event_id",
        "created_at",
        "updated_at",
        "status",
    } <= detail.keys()
    events = to_json(busy_runtime.read_events(busy_runtime.event_cursor_from_start()))
    assert set(events) == {"runtime_id", "cursor", "events", "has_more"}
    assert events["events"][0]["kind"] == "runtime_started"  # a plain string, not nested
    assert "worker_ref" not in events["events"][0]
    summary = to_json(busy_runtime.summary())
    assert summary["backend"] == "memory"
    assert "stores" not in summary  # only a store-backed Runtime names its stores
    assert summary["limits"] == {
        "max_transcript_projection_items": 256,
        "max_event_batch_items": 256,
        "max_worker_list_items": 256,
    }
    page = to_json(busy_runtime.transcript_projection(busy_runtime.worker_ref("a")))
    assert set(page) == {"worker_ref", "start", "limit", "total_items", "items", "next_start"}
    assert page["next_start"] is None  # always present, null at the end


@pytest.mark.parametrize(
    ("cls", "data", "message"),
    [
        (CreateWorkerRequest, [], r"^invalid request: \$: expected an object, got an array$"),
        (
            CreateWorkerRequest,
            {"profile": {"kind": "runtime_default"}},
            r"\$\.intent: required field missing",
        ),
        (
            CreateWorkerRequest,
            {"intent": {"kind": "wish"}, "profile": {"kind": "runtime_default"}},
            r"\$\.intent: kind must be one of 'assistant', 'task', 'role', got 'wish'",
        ),
        (
            CreateWorkerRequest,
            {"intent": {"kind": "task"}, "profile": {"kind": "builtin"}},
            r"\$\.intent\.objective: required field missing; "
            r"\$\.profile\.value: required field missing",
        ),
        (
            CreateWorkerRequest,
            {"intent": {"kind": "assistant"}, "profile": {"kind": "runtime_default"}, "nmae": "x"},
            r"\$: unknown field\(s\) nmae",
        ),
        (
            CreateWorkerRequest,
            {
                "intent": {"kind": "assistant"},
                "profile": {"kind": "runtime_default"},
                "name": "a b",
            },
            r"\$\.name: worker name 'a b' contains ' '",
        ),
        (
            CreateWorkerRequest,
            {
                "intent": {"kind": "assistant"},
                "profile": {"kind": "runtime_default"},
                "requested_capabilities": {},
            },
            r"\$\.requested_capabilities",
        ),
        (
            WorkerInput,
            {"kind": "admin", "content": "x"},
            r"\$\.kind: must be one of 'user', 'system', got 'admin'",
        ),
        (
            WorkerInput,
            {"kind": "user", "content": 5},
            r"\$\.content: expected a string, got a number",
        ),
        (WorkerInput, {"kind": "user", "content": " "}, r"\$\.content: must not be blank"),
        (
            EventCursor,
            {"runtime_id": "rt", "next_event_id": True},
            r"\$\.next_event_id: expected an integer",
        ),
        (
            EventCursor,
            {"runtime_id": "rt", "next_event_id": 0},
            r"\$\.next_event_id: must be at least 1, got 0",
        ),
        (LifecycleRequest, {"reason": 3}, r"\$\.reason"),
    ],
)
def test_bad_json_is_an_invalid_request_naming_the_path(
    cls: type[Any], data: object, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        from_json(cls, data)


def test_optional_fields_accept_missing_and_null() -> None:
    request = from_json(
        CreateWorkerRequest,
        {
            "intent": {"kind": "assistant", "purpose": None},
            "profile": {"kind": "runtime_default"},
            "config_bundle": None,
        },
    )
    assert request.config_bundle is None and request.name is None
    assert from_json(LifecycleRequest, {}) == LifecycleRequest()


def test_every_model_round_trips_through_json(busy_runtime: Runtime) -> None:
    ref = busy_runtime.worker_ref("a")
    for value in [
        busy_runtime.summary(),
        busy_runtime.worker_detail(ref),
        busy_runtime.transcript_projection(ref),
        busy_runtime.read_events(busy_runtime.event_cursor_from_start()),
    ]:
        assert from_json(type(value), json.loads(json.dumps(to_json(value)))) == value


def test_every_model_has_a_schema_and_components_resolve() -> None:
    components = schema_components()
    assert {cls.__name__ for cls in MODELS} <= components.keys()
    text = json.dumps(components)
    for ref in re.findall(r'"#/components/schemas/(\w+)"', text):
        assert ref in components
    for name in ("WorkerDetail", "RuntimeSummary", "TranscriptProjection"):
        assert components[name]["additionalProperties"] is False
    detail = json_schema(WorkerDetail)
    assert detail["properties"]["status"] == {"enum": ["running", "stopped", "cancelled"]}
    assert "config_bundle" not in detail["required"] and "worker_ref" in detail["required"]
    assert json_schema(RuntimeSummary)["properties"]["backend"] == {"enum": ["memory", "store"]}
    assert "next_start" in json_schema(TranscriptProjection)["required"]
