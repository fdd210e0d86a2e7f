"""The history an engine is sent, built from a transcript by the rules in history.py."""

from __future__ import annotations

from yoi_worker_runtime.history import INTERRUPTED_NOTE, build_history, task_text
from yoi_worker_runtime.model import (
    AssistantIntent,
    RoleIntent,
    TaskIntent,
    TranscriptEntry,
    TranscriptRole,
    WorkerRef,
)

REF = WorkerRef(runtime_id="rt", worker_id="w")


def item(
    sequence: int, role: TranscriptRole, content: str, turn_id: str | None, **more: object
) -> TranscriptEntry:
    return TranscriptEntry(
        sequence=sequence,
        worker_ref=REF,
        role=role,
        content=content,
        event_id=sequence,
        at="2026-11-29T00:00:00.000Z",
        turn_id=turn_id,
        **more,  # type: ignore[arg-type]
    )


def roles(messages: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]  # type: ignore[attr-defined]


def test_the_intent_becomes_the_first_system_message() -> None:
    assert task_text(TaskIntent(objective="fix the bug")).endswith("one task: fix the bug")
    assert "role of reviewer" in task_text(RoleIntent(role="reviewer", purpose="be strict"))
    assert task_text(AssistantIntent()) == "You are a helpful assistant."


def test_turns_are_in_acceptance_order_and_later_inputs_wait() -> None:
    transcript = [
        item(1, "user", "first", "t1"),
        item(2, "user", "second", "t2"),  # queued while t1 ran
        item(3, "assistant", "answer one", "t1"),
    ]
    history = build_history(
        AssistantIntent(), transcript, interrupted=lambda _: False, current_turn="t1", budget=None
    )
    # The current turn's own items (an earlier step's) are in; the queued input is not.
    assert roles(history)[1:] == [("user", "first"), ("assistant", "answer one")]
    history = build_history(
        AssistantIntent(), transcript, interrupted=lambda _: False, current_turn="t2", budget=None
    )
    assert roles(history)[1:] == [
        ("user", "first"),
        ("assistant", "answer one"),
        ("user", "second"),
    ]


def test_tool_calls_join_their_assistant_message_and_results_follow() -> None:
    transcript = [
        item(1, "user", "look", "t1"),
        item(2, "assistant", "checking", "t1"),
        item(3, "tool_call", '{"a":1}', "t1", call_id="c1", tool_name="find"),
        item(4, "tool_call", "{}", "t1", call_id="c2", tool_name="list"),
        item(5, "tool_result", "found", "t1", call_id="c1", tool_name="find"),
        item(6, "tool_result", "boom", "t1", call_id="c2", tool_name="list", is_error=True),
    ]
    history = build_history(
        AssistantIntent(), transcript, interrupted=lambda _: False, current_turn="t1", budget=None
    )
    assistant = history[2]
    assert (assistant.role, assistant.content) == ("assistant", "checking")
    assert [(call.call_id, call.name) for call in assistant.tool_calls] == [
        ("c1", "find"),
        ("c2", "list"),
    ]
    assert [(m.role, m.tool_call_id, m.is_error) for m in history[3:]] == [
        ("tool", "c1", False),
        ("tool", "c2", True),
    ]


def test_an_interrupted_turn_is_followed_by_a_note() -> None:
    transcript = [item(1, "user", "first", "t1"), item(2, "user", "second", "t2")]
    history = build_history(
        AssistantIntent(),
        transcript,
        interrupted=lambda turn_id: turn_id == "t1",
        current_turn="t2",
        budget=None,
    )
    assert roles(history)[1:] == [
        ("user", "first"),
        ("system", INTERRUPTED_NOTE),
        ("user", "second"),
    ]


def test_the_budget_drops_whole_old_turns_but_keeps_the_task_and_the_current_turn() -> None:
    transcript = [
        item(1, "user", "old " * 100, "t1"),
        item(2, "assistant", "long answer " * 50, "t1"),
        item(3, "user", "recent", "t2"),
        item(4, "assistant", "ok", "t2"),
        item(5, "user", "now " * 200, "t3"),
    ]
    intent = TaskIntent(objective="keep me")
    history = build_history(
        intent, transcript, interrupted=lambda _: False, current_turn="t3", budget=60
    )
    assert history[0].content == task_text(intent)
    assert roles(history)[1:] == [("user", "now " * 200)]  # over budget alone: still sent
    roomy = build_history(
        intent, transcript, interrupted=lambda _: False, current_turn="t3", budget=260
    )
    assert roles(roomy)[1:] == [("user", "recent"), ("assistant", "ok"), ("user", "now " * 200)]
