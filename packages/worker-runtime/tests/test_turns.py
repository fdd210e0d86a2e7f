"""Turns: every input on a Worker with an engine starts a turn that always ends.

Run against every way of opening a Runtime (``open_runtime`` below), so what a turn records is
checked through each persistence, and after a reopen where the persistence keeps state.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from recording_persistence import RecordingPersistence
from turn_support import (
    WAIT,
    BrokenEngine,
    GatedEngine,
    Recorder,
    StallingEngine,
    event_is,
    providers_with,
)
from yoi_worker_runtime import (
    AssistantIntent,
    BuiltinProfile,
    CreateWorkerRequest,
    NamedProfile,
    Runtime,
    RuntimeDefaultProfile,
    TaskIntent,
    WorkerInput,
    WorkerRef,
)
from yoi_worker_runtime.errors import UnknownProfile, WorkerBusy
from yoi_worker_runtime.history import INTERRUPTED_NOTE
from yoi_worker_runtime.model import OnBusy, RuntimeEvent, TurnTextDelta
from yoi_worker_runtime.profiles import parse_config

OpenRuntime = Callable[..., Runtime]

CONFIG = {
    "profiles": {
        "gated": {"engine": "gated"},
        "stalling": {"engine": "stalling", "timeout": 0.3},
        "raising": {"engine": "raising"},
        "silent": {"engine": "silent"},
        "failing": {"engine": "echo", "options": {"chunks": 4, "fail_with": "engine_auth"}},
        "chunky": {"engine": "echo", "options": {"chunks": 7}},
        "looping": {"engine": "echo", "max_steps": 1, "options": {"tool_calls": [{"name": "x"}]}},
        "tooling": {"engine": "echo", "options": {"tool_calls": [{"name": "x"}]}},
        "tight": {"engine": "echo", "context_budget": 40},
        "record": {"engine": "none"},
    }
}


@pytest.fixture
def gated() -> GatedEngine:
    return GatedEngine()


@pytest.fixture(
    params=[
        "memory",
        "recording",
        pytest.param("fs-store", marks=pytest.mark.feature("fs-store")),
        pytest.param("fs-store-memory", marks=pytest.mark.feature("fs-store")),
    ]
)
def open_runtime(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gated: GatedEngine,
) -> Iterator[OpenRuntime]:
    opened: list[Runtime] = []
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    recording = RecordingPersistence()
    store_url = (
        f"fs://{tmp_path / 'data'}"
        if request.param == "fs-store"
        else f"memory://turns-{uuid.uuid4().hex}"
    )

    def open_(**options: Any) -> Runtime:
        options.setdefault("config", parse_config(CONFIG))
        options.setdefault(
            "engine_providers",
            providers_with(
                gated=gated,
                stalling=StallingEngine(),
                raising=BrokenEngine("raise"),
                silent=BrokenEngine("no_message"),
            ),
        )
        if request.param == "recording":
            options.setdefault("persistence", recording)
        if request.param.startswith("fs-store"):
            from yoi_worker_runtime import open_persistent_runtime

            runtime = open_persistent_runtime(store_url, **options)
        else:
            runtime = Runtime.open(**options)
        opened.append(runtime)
        return runtime

    yield open_
    gated.release_all()
    for runtime in opened:
        runtime.close()


@pytest.fixture
def runtime(open_runtime: OpenRuntime) -> Runtime:
    return open_runtime(runtime_id="rt")


def worker(
    runtime: Runtime, profile: str | None = None, name: str = "w", on_busy: OnBusy | None = None
) -> WorkerRef:
    chosen = NamedProfile(value=profile) if profile else RuntimeDefaultProfile()
    request = CreateWorkerRequest(
        name=name, intent=TaskIntent(objective="answer"), profile=chosen, on_busy=on_busy
    )
    return runtime.create_worker(request).worker_ref


def say(runtime: Runtime, ref: WorkerRef, text: str, on_busy: OnBusy | None = None) -> str:
    ack = runtime.send_input(ref, WorkerInput(kind="user", content=text, on_busy=on_busy))
    assert ack.turn_id is not None
    return ack.turn_id


def kinds(events: Sequence[RuntimeEvent]) -> list[str]:
    return [event.kind for event in events]


# --- a turn from start to end -----------------------------------------------------------------


def test_an_input_starts_a_turn_that_the_default_engine_answers(runtime: Runtime) -> None:
    ref = worker(runtime)
    ack = runtime.send_input(ref, WorkerInput(kind="user", content="hello"))
    assert ack.turn_phase == "running" and ack.turn_id is not None
    turn = runtime.wait_for_turn(ref, ack.turn_id, WAIT)
    assert (turn.phase, turn.reply, turn.reason) == ("completed", "echo: hello", None)
    items = runtime.transcript_projection(ref).items
    assert [(item.role, item.content) for item in items] == [
        ("user", "hello"),
        ("assistant", "echo: hello"),
    ]
    assert {item.turn_id for item in items} == {ack.turn_id}
    events = runtime.read_events(runtime.event_cursor_from_start()).events
    assert kinds(events)[-3:] == ["worker_input_accepted", "turn_started", "turn_completed"]
    assert all(event.turn_id == ack.turn_id for event in events[-3:])
    detail = runtime.worker_detail(ref)
    assert (detail.turn.state, detail.turn.turn_id, detail.turn.queued) == ("idle", None, 0)
    assert detail.usage == turn.usage and turn.usage.output_tokens == 2
    assert events[-1].usage == turn.usage


def test_the_deltas_of_a_turn_join_into_its_recorded_message(runtime: Runtime) -> None:
    recorder = Recorder(runtime)
    ref = worker(runtime, "chunky")
    turn_id = say(runtime, ref, "a longer sentence to split")
    runtime.wait_for_turn(ref, turn_id, WAIT)
    deltas = recorder.deltas(turn_id)
    assert [delta.index for delta in deltas] == list(range(7))
    assert "".join(delta.text for delta in deltas) == "echo: a longer sentence to split"
    assert runtime.turn_detail(ref, turn_id).reply == "echo: a longer sentence to split"
    # Listeners see the turn in commit order: started, the deltas, then completed.
    mine = [m for m in recorder.messages if getattr(m, "turn_id", None) == turn_id]
    assert isinstance(mine[1], RuntimeEvent) and mine[1].kind == "turn_started"
    assert all(isinstance(message, TurnTextDelta) for message in mine[2:-1])
    assert isinstance(mine[-1], RuntimeEvent) and mine[-1].kind == "turn_completed"


def test_a_worker_with_the_none_profile_records_input_and_runs_no_turn(runtime: Runtime) -> None:
    ref = runtime.create_worker(
        CreateWorkerRequest(intent=AssistantIntent(), profile=BuiltinProfile(value="none"))
    ).worker_ref
    ack = runtime.send_input(ref, WorkerInput(kind="user", content="note this"))
    assert (ack.turn_id, ack.turn_phase) == (None, None)
    assert runtime.worker_detail(ref).turn.state == "idle"
    last = runtime.read_events(runtime.event_cursor_from_start()).events[-1]
    assert last.kind == "worker_input_accepted" and last.turn_id is None


def test_an_unknown_profile_is_refused_at_create_and_nothing_is_written(runtime: Runtime) -> None:
    before = runtime.summary()
    for profile in (NamedProfile(value="nope"), BuiltinProfile(value="careful")):
        with pytest.raises(UnknownProfile, match="known profiles: ") as caught:
            runtime.create_worker(CreateWorkerRequest(intent=AssistantIntent(), profile=profile))
        assert caught.value.code == "unknown_profile"
    assert runtime.summary() == before


# --- busy policies ----------------------------------------------------------------------------


def test_input_to_a_busy_worker_queues_and_its_turn_sees_the_first_answer(
    runtime: Runtime, gated: GatedEngine
) -> None:
    ref = worker(runtime, "gated")
    first = say(runtime, ref, "first")
    ack = runtime.send_input(ref, WorkerInput(kind="user", content="second"))
    assert ack.turn_phase == "queued"
    assert runtime.worker_detail(ref).turn.queued == 1
    assert runtime.turn_detail(ref, ack.turn_id or "").phase == "queued"
    gated.release_all()
    assert runtime.wait_for_turn(ref, ack.turn_id or "", WAIT).phase == "completed"
    assert runtime.turn_detail(ref, first).phase == "completed"
    history = gated.requests[-1].messages
    assert [(message.role, message.content) for message in history[1:]] == [
        ("user", "first"),
        ("assistant", "one two three"),
        ("user", "second"),
    ]


def test_reject_policy_refuses_a_busy_worker_and_writes_nothing(
    runtime: Runtime, gated: GatedEngine
) -> None:
    ref = worker(runtime, "gated", on_busy="reject")
    running = say(runtime, ref, "first")
    before = runtime.summary().last_event_id
    with pytest.raises(WorkerBusy, match=running) as caught:
        runtime.send_input(ref, WorkerInput(kind="user", content="second"))
    assert caught.value.code == "worker_busy"
    assert runtime.summary().last_event_id == before
    assert runtime.worker_detail(ref).transcript_len == 1
    # The per-input policy overrides the Worker's.
    queued = runtime.send_input(ref, WorkerInput(kind="user", content="x", on_busy="enqueue"))
    assert queued.turn_phase == "queued"


def test_interrupt_policy_ends_running_and_queued_turns_then_runs_the_new_input(
    runtime: Runtime, gated: GatedEngine
) -> None:
    ref = worker(runtime, "gated")
    first = say(runtime, ref, "first")
    queued = say(runtime, ref, "second")
    assert gated.started.wait(WAIT)
    newest = say(runtime, ref, "third", on_busy="interrupt")
    for turn_id in (first, queued):
        ended = runtime.turn_detail(ref, turn_id)
        assert (ended.phase, ended.reason) == ("interrupted", "superseded")
    gated.release_all()
    assert runtime.wait_for_turn(ref, newest, WAIT).phase == "completed"


# --- interrupts -------------------------------------------------------------------------------


def test_an_interrupt_closes_the_engine_stream_and_nothing_lands_after_it(
    runtime: Runtime, gated: GatedEngine
) -> None:
    recorder = Recorder(runtime)
    ref = worker(runtime, "gated")
    turn_id = say(runtime, ref, "go")
    gated.release(1)
    recorder.wait_for(lambda message: isinstance(message, TurnTextDelta))
    ack = runtime.interrupt_turn(ref)
    assert (ack.changed, ack.turn_id, ack.dropped) == (True, turn_id, 0)
    assert gated.closed.is_set(), "the engine's stream must be closed when interrupt returns"
    gated.release_all()  # the engine would go on if it could: nothing of it may land
    assert runtime.worker_detail(ref).turn.state == "idle"
    turn = runtime.turn_detail(ref, turn_id)
    assert (turn.phase, turn.reason, turn.reply) == ("interrupted", "interrupted", None)
    mine = [m for m in recorder.messages if getattr(m, "turn_id", None) == turn_id]
    assert isinstance(mine[-1], RuntimeEvent) and mine[-1].kind == "turn_interrupted"
    assert [item.role for item in runtime.transcript_projection(ref).items] == ["user"]
    assert runtime.worker_detail(ref).status == "running"
    # The Worker goes on: the next input runs, and its history says the last turn was cut.
    gated.closed.clear()
    follow_up = say(runtime, ref, "again")
    assert runtime.wait_for_turn(ref, follow_up, WAIT).phase == "completed"
    roles = [(m.role, m.content) for m in gated.requests[-1].messages[1:]]
    assert roles == [("user", "go"), ("system", INTERRUPTED_NOTE), ("user", "again")]


def test_an_interrupt_before_the_first_delta_still_ends_the_turn(
    runtime: Runtime, gated: GatedEngine
) -> None:
    ref = worker(runtime, "gated")
    turn_id = say(runtime, ref, "go")
    ack = runtime.interrupt_turn(ref)  # racing the turn's start: the engine may not run yet
    assert ack.changed and ack.turn_id == turn_id
    gated.release_all()
    assert runtime.turn_detail(ref, turn_id).phase == "interrupted"
    assert runtime.worker_detail(ref).turn.state == "idle"
    assert [item.role for item in runtime.transcript_projection(ref).items] == ["user"]


def test_interrupting_an_idle_worker_changes_nothing(runtime: Runtime) -> None:
    ref = worker(runtime)
    before = runtime.summary().last_event_id
    ack = runtime.interrupt_turn(ref)
    assert (ack.changed, ack.turn_id, ack.event_id) == (False, None, before)
    assert runtime.summary().last_event_id == before


def test_queued_inputs_run_after_an_interrupt_unless_dropped(
    runtime: Runtime, gated: GatedEngine
) -> None:
    ref = worker(runtime, "gated")
    say(runtime, ref, "first")
    second = say(runtime, ref, "second")
    third = say(runtime, ref, "third")
    runtime.interrupt_turn(ref)
    assert runtime.worker_detail(ref).turn.turn_id == second
    ack = runtime.interrupt_turn(ref, drop_queued=True)
    assert (ack.turn_id, ack.dropped) == (second, 1)
    dropped = runtime.turn_detail(ref, third)
    assert (dropped.phase, dropped.reason) == ("interrupted", "interrupted")
    assert runtime.worker_detail(ref).turn.state == "idle"


def test_stop_and_cancel_end_the_running_turn_before_the_worker(
    runtime: Runtime, gated: GatedEngine
) -> None:
    for name, end in (("s", runtime.stop_worker), ("c", runtime.cancel_worker)):
        ref = worker(runtime, "gated", name=name)
        turn_id = say(runtime, ref, "go")
        queued = say(runtime, ref, "later")
        assert gated.started.wait(WAIT)
        end(ref)
        status = runtime.worker_detail(ref).status
        events = runtime.read_events(runtime.event_cursor_from_start()).events
        assert kinds(events)[-3:] == ["turn_interrupted", "turn_interrupted", f"worker_{status}"]
        assert {events[-3].turn_id, events[-2].turn_id} == {turn_id, queued}
        assert events[-3].reason == f"worker_{status}"
        gated.started.clear()


def test_stopping_the_runtime_ends_every_turn(runtime: Runtime, gated: GatedEngine) -> None:
    ref = worker(runtime, "gated")
    turn_id = say(runtime, ref, "go")
    assert gated.started.wait(WAIT)
    runtime.stop_runtime()
    assert runtime.turn_detail(ref, turn_id).reason == "runtime_stopped"
    assert gated.closed.is_set()


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        ("failing", "engine_auth"),
        ("stalling", "engine_timeout"),
        ("raising", "engine_bad_response"),
        ("silent", "engine_bad_response"),
        ("looping", "max_steps"),
    ],
)
def test_a_failing_turn_ends_typed_and_the_next_input_works(
    runtime: Runtime, profile: str, reason: str
) -> None:
    recorder = Recorder(runtime)
    ref = worker(runtime, profile)
    turn_id = say(runtime, ref, "go")
    turn = runtime.wait_for_turn(ref, turn_id, WAIT)
    assert (turn.phase, turn.reason, turn.reply) == ("failed", reason, None)
    failed = recorder.wait_for(event_is("turn_failed", turn_id))
    assert isinstance(failed, RuntimeEvent) and failed.reason == reason
    assert runtime.worker_detail(ref).turn.state == "idle"
    assert "assistant" not in [item.role for item in runtime.transcript_projection(ref).items]
    nxt = say(runtime, ref, "again")
    assert runtime.wait_for_turn(ref, nxt, WAIT).phase == "failed"  # fails the same way


def test_a_stalled_engine_fails_after_its_timeout_not_later(runtime: Runtime) -> None:
    ref = worker(runtime, "stalling")
    started = time.monotonic()
    turn_id = say(runtime, ref, "go")
    runtime.wait_for_turn(ref, turn_id, WAIT)
    assert 0.3 <= time.monotonic() - started < 0.3 + 5


def test_tool_calls_a_worker_cannot_make_get_error_results_the_model_sees(
    runtime: Runtime,
) -> None:
    ref = worker(runtime, "tooling")
    turn = runtime.wait_for_turn(ref, say(runtime, ref, "go"), WAIT)
    items = runtime.transcript_projection(ref).items
    assert [item.role for item in items] == ["user", "tool_call", "tool_result", "assistant"]
    call, result = items[1], items[2]
    assert (call.tool_name, call.content) == ("x", "{}")
    assert result.call_id == call.call_id and result.is_error is True
    assert "not available" in result.content
    assert turn.reply == f"x: {result.content}"


# --- history ----------------------------------------------------------------------------------


def test_the_context_budget_leaves_out_the_oldest_turns_but_keeps_the_task(
    runtime: Runtime,
) -> None:
    ref = worker(runtime, "tight")
    for text in ("first " * 10, "second " * 10, "third"):
        runtime.wait_for_turn(ref, say(runtime, ref, text.strip()), WAIT)
    last = runtime.turn_detail(ref, say(runtime, ref, "last"))
    reply = runtime.wait_for_turn(ref, last.turn_id, WAIT).reply
    assert reply == "echo: last"
    assert runtime.worker_detail(ref).usage.input_tokens > 0


# --- restarts ---------------------------------------------------------------------------------


def test_turns_left_unended_by_a_crash_are_recorded_interrupted_on_reopen(
    gated: GatedEngine,
) -> None:
    """In process: the store as a process death leaves it, reopened. (A real SIGKILL of a
    host process is in test_turn_crashes.py.)"""
    providers = providers_with(
        gated=gated,
        stalling=StallingEngine(),
        raising=BrokenEngine("raise"),
        silent=BrokenEngine("no_message"),
    )
    config = parse_config(CONFIG)
    store = RecordingPersistence()
    runtime = Runtime.open(
        runtime_id="rt", persistence=store, config=config, engine_providers=providers
    )
    ref = worker(runtime, "gated")
    running = say(runtime, ref, "first")
    queued = say(runtime, ref, "second")
    assert gated.started.wait(WAIT)
    left_behind = store.durable_copy()
    runtime._loop.close()
    reopened = Runtime.open(persistence=left_behind, config=config, engine_providers=providers)
    for turn_id in (running, queued):
        turn = reopened.turn_detail(ref, turn_id)
        assert (turn.phase, turn.reason) == ("interrupted", "runtime_restarted")
    assert reopened.worker_detail(ref).turn.state == "idle"
    follow_up = say(reopened, ref, "third")
    gated.release_all()
    assert reopened.wait_for_turn(ref, follow_up, WAIT).phase == "completed"
    history = [(m.role, m.content) for m in gated.requests[-1].messages[1:]]
    assert history == [
        ("user", "first"),
        ("system", INTERRUPTED_NOTE),
        ("user", "second"),
        ("system", INTERRUPTED_NOTE),
        ("user", "third"),
    ]
    reopened.close()
    assert store.events[: len(left_behind.events)] == left_behind.events[: len(store.events)]
