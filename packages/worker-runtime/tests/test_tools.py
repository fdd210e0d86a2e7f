"""Tools: allowed and requested, checked, bounded, and never left without a result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from recording_persistence import RecordingPersistence
from turn_support import WAIT, GatedEngine, providers_with
from yoi_worker_runtime import (
    AssistantIntent,
    CreateWorkerRequest,
    NamedProfile,
    RequestedCapability,
    Runtime,
    WorkerInput,
    WorkerRef,
)
from yoi_worker_runtime.errors import ToolNotAllowed, UnknownTool
from yoi_worker_runtime.model import TranscriptEntry
from yoi_worker_runtime.profiles import ConfigError, parse_config
from yoi_worker_runtime.tools import Tool, ToolContext, ToolError
from yoi_worker_runtime.tools.arguments import ToolSchemaError, check_schema, parse_arguments

SCHEMA = {
    "type": "object",
    "properties": {"q": {"type": "string", "minLength": 1}, "n": {"type": "integer", "minimum": 0}},
    "required": ["q"],
    "additionalProperties": False,
}


class Calls:
    """What the test tools saw, and a gate the slow ones wait on."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.slow_started = threading.Event()
        self.slow_cancelled = threading.Event()


def make_tools(calls: Calls) -> dict[str, Tool]:
    def lookup(arguments: Mapping[str, Any], context: ToolContext) -> str:
        calls.seen.append(f"lookup {arguments['q']}")
        return f"found {arguments['q']} for {context.worker_ref.worker_id}"

    def slow(arguments: Mapping[str, Any], context: ToolContext) -> str:
        calls.seen.append("slow")
        calls.slow_started.set()
        if context.cancelled.wait(WAIT):
            calls.slow_cancelled.set()
        return "slow done"

    async def nap(arguments: Mapping[str, Any], context: ToolContext) -> str:
        calls.seen.append("nap")
        await asyncio.sleep(3600)
        return "never"

    def refuse(arguments: Mapping[str, Any], context: ToolContext) -> str:
        raise ToolError("no such record")

    def crash(arguments: Mapping[str, Any], context: ToolContext) -> str:
        raise ZeroDivisionError("bug")

    def where(arguments: Mapping[str, Any], context: ToolContext) -> str:
        return str(context.workspace)

    return {
        "lookup": Tool(name="lookup", description="find things", parameters=SCHEMA, run=lookup),
        "slow": Tool(name="slow", description="waits", run=slow, side_effects=True),
        "nap": Tool(name="nap", description="sleeps", run=nap, timeout=0.2),
        "refuse": Tool(name="refuse", description="fails", run=refuse),
        "crash": Tool(name="crash", description="crashes", run=crash),
        "where": Tool(name="where", description="workspace", run=where),
        "hidden": Tool(name="hidden", description="installed, not allowed", run=lookup),
    }


def scripted(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"engine": "echo", "options": {"tool_calls": list(calls)}}


CONFIG = {
    "allow_tools": ["lookup", "slow", "nap", "refuse", "crash", "where"],
    "profiles": {
        "one": scripted({"name": "lookup", "arguments": {"q": "cats"}}),
        "bad_args": scripted({"name": "lookup", "arguments": {"q": "", "extra": 1}}),
        "slow_then_lookup": scripted({"name": "slow"}, {"name": "lookup", "arguments": {"q": "x"}}),
        "nap": scripted({"name": "nap"}),
        "failing": scripted({"name": "refuse"}, {"name": "crash"}),
        "unrequested": scripted({"name": "where"}),
        "workspace": scripted({"name": "where"}),
        "gated": {"engine": "gated"},
    },
}


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def store() -> RecordingPersistence:
    return RecordingPersistence()


@pytest.fixture
def runtime(calls: Calls, store: RecordingPersistence, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.open(
        runtime_id="rt",
        persistence=store,
        config=parse_config(CONFIG),
        engine_providers=providers_with(gated=GatedEngine()),
        tools=make_tools(calls),
        workspace_root=tmp_path / "workspaces",
    )
    yield runtime
    runtime.close()


def worker(runtime: Runtime, profile: str, *tools: str, name: str = "w") -> WorkerRef:
    request = CreateWorkerRequest(
        name=name,
        intent=AssistantIntent(),
        profile=NamedProfile(value=profile),
        requested_capabilities=tuple(RequestedCapability(name=tool) for tool in tools),
    )
    return runtime.create_worker(request).worker_ref


def run_turn(
    runtime: Runtime, ref: WorkerRef, text: str = "go"
) -> tuple[str, list[TranscriptEntry]]:
    ack = runtime.send_input(ref, WorkerInput(kind="user", content=text))
    assert ack.turn_id is not None
    runtime.wait_for_turn(ref, ack.turn_id, WAIT)
    return ack.turn_id, list(runtime.transcript_projection(ref).items)


def assert_every_call_has_exactly_one_result(items: Sequence[TranscriptEntry]) -> None:
    calls = [item.call_id for item in items if item.role == "tool_call"]
    results = [item.call_id for item in items if item.role == "tool_result"]
    assert len(calls) == len(set(calls))
    assert sorted(calls, key=str) == sorted(results, key=str)
    for item in items:
        if item.role == "tool_result":
            call = next(entry for entry in items if entry.call_id == item.call_id)
            assert call.sequence < item.sequence


# --- what a Worker may call -------------------------------------------------------------------


def test_a_requested_capability_must_be_an_allowed_tool(runtime: Runtime) -> None:
    before = runtime.summary()
    with pytest.raises(UnknownTool, match="no tool named 'shell'") as unknown:
        worker(runtime, "one", "shell")
    assert unknown.value.code == "unknown_tool"
    with pytest.raises(ToolNotAllowed, match="'hidden' is not allowed") as hidden:
        worker(runtime, "one", "hidden")
    assert hidden.value.code == "tool_not_allowed"
    assert runtime.summary() == before


def test_allowing_a_tool_nothing_provides_stops_the_runtime_opening(calls: Calls) -> None:
    with pytest.raises(ConfigError, match="allow_tools names 'shell'"):
        Runtime.open(config=parse_config({"allow_tools": ["shell"]}), tools=make_tools(calls))


def test_a_tool_whose_schema_cannot_be_checked_is_refused_at_start(calls: Calls) -> None:
    odd = Tool(name="odd", description="", parameters={"type": "object", "$ref": "#/x"}, run=print)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unsupported keyword '\\$ref'"):
        Runtime.open(config=parse_config({"allow_tools": ["odd"]}), tools={"odd": odd})


def test_the_engine_is_offered_exactly_the_granted_tools(calls: Calls, tmp_path: Path) -> None:
    gated = GatedEngine()
    with Runtime.open(
        config=parse_config(CONFIG),
        engine_providers=providers_with(gated=gated),
        tools=make_tools(calls),
    ) as runtime:
        ref = worker(runtime, "gated", "lookup", "slow")
        runtime.send_input(ref, WorkerInput(kind="user", content="go"))
        assert gated.started.wait(WAIT)
        offered = gated.requests[0].tools
        assert [(spec.name, spec.description) for spec in offered] == [
            ("lookup", "find things"),
            ("slow", "waits"),
        ]
        assert offered[0].parameters == SCHEMA
        gated.release_all()


# --- calls and results ------------------------------------------------------------------------


def test_a_call_runs_and_the_model_gets_its_result(runtime: Runtime, calls: Calls) -> None:
    ref = worker(runtime, "one", "lookup")
    turn_id, items = run_turn(runtime, ref)
    assert [item.role for item in items] == ["user", "tool_call", "tool_result", "assistant"]
    assert items[2].content == "found cats for w" and items[2].is_error is None
    assert calls.seen == ["lookup cats"]
    assert runtime.turn_detail(ref, turn_id).reply == "lookup: found cats for w"
    events = runtime.read_events(runtime.event_cursor_from_start()).events
    tool_events = [event for event in events if event.kind.startswith("tool_")]
    assert [event.kind for event in tool_events] == ["tool_started", "tool_finished"]
    assert "ok in" in tool_events[1].message and tool_events[1].turn_id == turn_id


def test_invalid_arguments_are_an_error_result_and_the_tool_does_not_run(
    runtime: Runtime, calls: Calls
) -> None:
    ref = worker(runtime, "bad_args", "lookup")
    _, items = run_turn(runtime, ref)
    result = items[2]
    assert result.is_error is True
    assert "$.q: shorter than 1" in result.content and "'extra'" in result.content
    assert calls.seen == []


def test_a_tool_error_and_a_crash_are_error_results_and_the_turn_goes_on(
    runtime: Runtime,
) -> None:
    ref = worker(runtime, "failing", "refuse", "crash")
    turn_id, items = run_turn(runtime, ref)
    results = [item for item in items if item.role == "tool_result"]
    assert [(item.content, item.is_error) for item in results] == [
        ("no such record", True),
        ("tool 'crash' failed unexpectedly (ZeroDivisionError)", True),
    ]
    assert runtime.turn_detail(ref, turn_id).phase == "completed"


def test_a_tool_past_its_timeout_gets_a_timeout_result(runtime: Runtime) -> None:
    ref = worker(runtime, "nap", "nap")
    _, items = run_turn(runtime, ref)
    assert items[2].content == "tool 'nap' timed out after 0.2 seconds"
    assert items[2].is_error is True


def test_a_tool_the_worker_did_not_request_is_refused(runtime: Runtime) -> None:
    ref = worker(runtime, "unrequested", "lookup")
    _, items = run_turn(runtime, ref)
    assert "not available to this Worker" in items[2].content


def test_each_worker_gets_its_own_workspace_under_the_root(
    runtime: Runtime, tmp_path: Path
) -> None:
    ref = worker(runtime, "workspace", "where", name="builder")
    _, items = run_turn(runtime, ref)
    assert items[2].content == str(tmp_path / "workspaces" / "builder")


# --- no orphaned calls ------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["interrupt", "stop", "cancel"])
def test_ending_a_turn_during_a_call_closes_every_call_of_the_step(
    runtime: Runtime, calls: Calls, end: str
) -> None:
    ref = worker(runtime, "slow_then_lookup", "slow", "lookup")
    ack = runtime.send_input(ref, WorkerInput(kind="user", content="go"))
    assert calls.slow_started.wait(WAIT)
    ends: dict[str, Callable[[WorkerRef], object]] = {
        "interrupt": runtime.interrupt_turn,
        "stop": runtime.stop_worker,
        "cancel": runtime.cancel_worker,
    }
    ends[end](ref)
    assert calls.slow_cancelled.wait(WAIT), "the running tool's cancellation signal was not set"
    items = runtime.transcript_projection(ref).items
    assert_every_call_has_exactly_one_result(items)
    results = [item for item in items if item.role == "tool_result"]
    assert len(results) == 2 and all(item.is_error for item in results)
    assert all("the turn was interrupted" in item.content for item in results)
    assert calls.seen == ["slow"], "the step's remaining call must not run"
    turn = runtime.turn_detail(ref, ack.turn_id or "")
    assert turn.phase == "interrupted"


def test_after_a_crash_during_a_call_reopening_closes_it_without_running_it_again(
    calls: Calls, store: RecordingPersistence, tmp_path: Path
) -> None:
    options: dict[str, Any] = {
        "config": parse_config(CONFIG),
        "engine_providers": providers_with(gated=GatedEngine()),
        "tools": make_tools(calls),
    }
    runtime = Runtime.open(runtime_id="rt", persistence=store, **options)
    ref = worker(runtime, "slow_then_lookup", "slow", "lookup")
    runtime.send_input(ref, WorkerInput(kind="user", content="go"))
    assert calls.slow_started.wait(WAIT)
    left_behind = store.durable_copy()
    runtime._loop.close()
    orphans = [item for item in left_behind.transcripts["w"] if item.role == "tool_call"]
    assert len(orphans) == 2
    reopened = Runtime.open(persistence=left_behind, **options)
    items = reopened.transcript_projection(ref).items
    assert_every_call_has_exactly_one_result(items)
    assert all("runtime_restarted" in item.content for item in items if item.role == "tool_result")
    assert calls.seen == ["slow"]
    reopened.close()


# --- the argument checker ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"n": 1}', "missing required 'q'"),
        ('{"q": 5}', "$.q: expected string"),
        ('{"q": "x", "n": -1}', "$.n: violates minimum 0"),
        ('{"q": "x", "n": true}', "$.n: expected integer"),
        ('{"q": "x", "z": 1}', "unexpected property 'z'"),
    ],
)
def test_bad_arguments_are_explained(text: str, message: str) -> None:
    with pytest.raises(ToolError, match=message.replace("$", r"\$")):
        parse_arguments(text, SCHEMA)


def test_good_and_empty_arguments_parse() -> None:
    assert parse_arguments('{"q": "x", "n": 2}', SCHEMA) == {"q": "x", "n": 2}
    assert parse_arguments("", {"type": "object"}) == {}


def test_every_supported_keyword_is_checked() -> None:
    schema = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            "size": {"type": ["number", "null"], "exclusiveMaximum": 10},
            "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
            "pick": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "additionalProperties": {"type": "boolean"},
    }
    check_schema(schema)
    good = '{"mode": "a", "tags": ["x"], "size": null, "name": "abc", "pick": 3, "flag": true}'
    assert parse_arguments(good, schema)["flag"] is True
    bad = '{"mode": "c", "tags": ["x", "y", 1], "size": 10, "name": "ABCDEFG", "flag": 1}'
    with pytest.raises(ToolError) as caught:
        parse_arguments(bad, schema)
    for problem in (
        "$.mode: must be one of",
        "$.tags: more than 2 items",
        "$.tags[2]: expected string",
        "$.size: violates exclusiveMaximum 10",
        "$.name: longer than 5",
        "$.name: does not match",
        "$.flag: expected boolean",
    ):
        assert problem in caught.value.message


def test_schemas_with_unsupported_keywords_are_refused() -> None:
    with pytest.raises(ToolSchemaError, match="'format'"):
        check_schema({"type": "object", "properties": {"a": {"type": "string", "format": "x"}}})
    with pytest.raises(ToolSchemaError, match="unknown type 'text'"):
        check_schema({"type": "text"})
    with pytest.raises(ToolSchemaError, match="not a valid pattern"):
        check_schema({"type": "string", "pattern": "("})
