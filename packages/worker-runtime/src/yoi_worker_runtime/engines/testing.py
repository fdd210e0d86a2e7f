"""The engine conformance kit: the contract of :mod:`.contract`, as tests any engine can run.

Subclass :class:`EngineConformance` in a test module and provide the ``engine`` fixture (an
engine ready to answer, e.g. pointed at a real server); the kit then checks that a step streams
deltas that add up to one assistant message, that every role of the history is accepted, and that
a cancelled or closed step returns promptly and leaves the engine usable. An engine that talks to
a server subclasses :class:`ServerEngineConformance` instead and also provides
``unreachable_engine`` (the same engine pointed at a closed port): its step must fail with
``engine_unavailable`` within the kit's bound, never hang.

Every test drives the engine on a fresh event loop (:func:`on_fresh_loop`), closing the
engine before that loop ends (as a Runtime does when it closes), so no pytest plugin is needed
and an engine may keep connections per loop. Import this module only from tests: it imports pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest

from yoi_worker_runtime.engines.contract import (
    AssistantMessage,
    Engine,
    EngineError,
    EngineEvent,
    EngineFailed,
    Message,
    StepRequest,
    TextDelta,
    ToolCall,
    Usage,
)

T = TypeVar("T")

#: Seconds a cancelled or closed step may take to return.
CANCEL_BOUND = 2.0
#: Seconds an engine whose server is unreachable may take to fail.
UNREACHABLE_BOUND = 30.0


def step_request(*messages: Message, step: int = 0) -> StepRequest:
    """A request for one step of a turn with the given history."""
    return StepRequest(worker_id="kit", turn_id="kit-turn", step=step, messages=messages)


SIMPLE = step_request(
    Message(role="system", content="You are a helpful assistant. Answer briefly."),
    Message(role="user", content="Say hello."),
)


async def collect(stream: AsyncIterator[EngineEvent]) -> list[EngineEvent]:
    """Every event of a step; a raised EngineError becomes its EngineFailed event."""
    events: list[EngineEvent] = []
    try:
        async for event in stream:
            events.append(event)
    except EngineError as error:
        events.append(EngineFailed(reason=error.reason, message=error.message))
    return events


def on_fresh_loop(engine: Engine, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on a new event loop, then ``engine.aclose()`` on that same loop."""

    async def run() -> T:
        try:
            return await work
        finally:
            await engine.aclose()

    return asyncio.run(run())


def check_step_shape(events: list[EngineEvent]) -> AssistantMessage:
    """The contract's shape of a successful step; returns its message."""
    for event in events:
        assert isinstance(event, TextDelta | AssistantMessage | Usage | EngineFailed), event
    failures = [event for event in events if isinstance(event, EngineFailed)]
    assert not failures, f"the step failed: {failures[0]}"
    messages = [event for event in events if isinstance(event, AssistantMessage)]
    assert len(messages) == 1, f"expected one assistant message, got {len(messages)}"
    message = messages[0]
    position = events.index(message)
    assert all(isinstance(event, Usage) for event in events[position + 1 :]), (
        "only usage may follow the assistant message"
    )
    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert "".join(deltas) == message.text, "the deltas must add up to the message"
    usage = [event for event in events if isinstance(event, Usage)]
    assert len(usage) <= 1, "at most one usage report per step"
    for item in usage:
        assert item.input_tokens >= 0 and item.output_tokens >= 0
    return message


class EngineConformance:
    """Subclass as a test class and provide the ``engine`` fixture."""

    @pytest.fixture
    def engine(self) -> Engine:
        raise NotImplementedError("provide an `engine` fixture")

    def test_a_step_streams_deltas_that_add_up_to_one_message(self, engine: Engine) -> None:
        events = on_fresh_loop(engine, collect(engine.run_step(SIMPLE)))
        message = check_step_shape(events)
        assert message.text.strip() or message.tool_calls, "an empty answer with no tool calls"

    def test_every_role_of_a_history_is_accepted(self, engine: Engine) -> None:
        call = ToolCall(call_id="call-1", name="lookup", arguments='{"q": "x"}')
        request = step_request(
            Message(role="system", content="You are terse."),
            Message(role="user", content="Look something up."),
            Message(role="assistant", content="", tool_calls=(call,)),
            Message(role="tool", content="nothing found", tool_call_id="call-1"),
            Message(role="assistant", content=""),
            Message(role="system", content="The previous turn was interrupted."),
            Message(role="user", content="Then just say ok."),
            step=1,
        )
        check_step_shape(on_fresh_loop(engine, collect(engine.run_step(request))))

    def test_a_cancelled_step_returns_promptly_and_the_engine_stays_usable(
        self, engine: Engine
    ) -> None:
        async def cancel_after_first_event() -> float:
            stream = engine.run_step(SIMPLE)
            first = asyncio.Event()

            async def consume() -> None:
                async for _ in stream:
                    first.set()

            task = asyncio.create_task(consume())
            waiter = asyncio.create_task(first.wait())
            await asyncio.wait(
                {task, waiter}, timeout=UNREACHABLE_BOUND, return_when="FIRST_COMPLETED"
            )
            waiter.cancel()
            assert first.is_set(), "no event within the bound"
            started = time.monotonic()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, CANCEL_BOUND)
            await asyncio.wait_for(stream.aclose(), CANCEL_BOUND)  # type: ignore[attr-defined]
            return time.monotonic() - started

        assert on_fresh_loop(engine, cancel_after_first_event()) < CANCEL_BOUND
        check_step_shape(on_fresh_loop(engine, collect(engine.run_step(SIMPLE))))

    def test_a_closed_stream_releases_promptly(self, engine: Engine) -> None:
        async def close_after_first_event() -> float:
            stream = engine.run_step(SIMPLE)
            await asyncio.wait_for(anext(stream), UNREACHABLE_BOUND)
            started = time.monotonic()
            await asyncio.wait_for(stream.aclose(), CANCEL_BOUND)  # type: ignore[attr-defined]
            return time.monotonic() - started

        assert on_fresh_loop(engine, close_after_first_event()) < CANCEL_BOUND


class ServerEngineConformance(EngineConformance):
    """For engines that talk to a server; also provide ``unreachable_engine``."""

    @pytest.fixture
    def unreachable_engine(self) -> Engine:
        raise NotImplementedError("provide an `unreachable_engine` fixture")

    def test_an_unreachable_server_fails_typed_and_promptly(
        self, unreachable_engine: Engine
    ) -> None:
        started = time.monotonic()
        events = on_fresh_loop(
            unreachable_engine,
            asyncio.wait_for(collect(unreachable_engine.run_step(SIMPLE)), UNREACHABLE_BOUND),
        )
        assert time.monotonic() - started < UNREACHABLE_BOUND
        assert isinstance(events[-1], EngineFailed), events
        assert events[-1].reason == "engine_unavailable"
        assert not any(isinstance(event, AssistantMessage) for event in events)
