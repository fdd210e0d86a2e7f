"""Engines and helpers for turn tests: a gated engine the test thread controls step by step.

The gated engine streams its reply one delta at a time and waits before each one until the test
lets it go (``release``); it reports from its own side when a step started and when its stream
was closed, so tests can assert that an interrupt really closed the engine's stream.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

from yoi_worker_runtime import Runtime
from yoi_worker_runtime.engines import (
    AssistantMessage,
    EngineEvent,
    EngineProvider,
    EngineSettings,
    StepRequest,
    TextDelta,
    Usage,
    engine_providers,
)
from yoi_worker_runtime.model import RuntimeEvent, TurnTextDelta
from yoi_worker_runtime.runtime import LiveMessage

#: Bound of every wait in the turn tests: generous for a loaded machine, never reached when
#: things work.
WAIT = 10.0


class GatedEngine:
    """Replies ``pieces`` one delta at a time; each delta waits for a ``release`` first."""

    def __init__(self, pieces: tuple[str, ...] = ("one ", "two ", "three")) -> None:
        self.pieces = pieces
        self.allowed = 0
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.closed = threading.Event()
        self.requests: list[StepRequest] = []

    def release(self, count: int = 1) -> None:
        with self.lock:
            self.allowed += count

    def release_all(self) -> None:
        self.release(1000)

    async def _gate(self, index: int) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            with self.lock:
                if self.allowed > index:
                    return
            if time.monotonic() > deadline:
                raise AssertionError("the test never released the gated engine")
            await asyncio.sleep(0.002)

    async def run_step(self, request: StepRequest) -> AsyncIterator[EngineEvent]:
        self.requests.append(request)
        self.started.set()
        try:
            for index, piece in enumerate(self.pieces):
                await self._gate(index)
                yield TextDelta(text=piece)
            yield AssistantMessage(text="".join(self.pieces))
            yield Usage(input_tokens=10, output_tokens=len(self.pieces))
        finally:
            self.closed.set()

    async def aclose(self) -> None:
        pass


class StallingEngine:
    """Sends one delta, then nothing, ever."""

    async def run_step(self, request: StepRequest) -> AsyncIterator[EngineEvent]:
        yield TextDelta(text="thinking")
        await asyncio.sleep(3600)

    async def aclose(self) -> None:
        pass


class BrokenEngine:
    """Breaks the contract in a way chosen per test."""

    def __init__(self, how: str) -> None:
        self.how = how

    async def run_step(self, request: StepRequest) -> AsyncIterator[EngineEvent]:
        yield TextDelta(text="partial")
        if self.how == "raise":
            raise RuntimeError("a bug in the engine")
        if self.how == "two_messages":
            yield AssistantMessage(text="partial")
            yield AssistantMessage(text="again")
        # "no_message": the stream just ends

    async def aclose(self) -> None:
        pass


def providers_with(**engines: object) -> dict[str, EngineProvider]:
    """The installed engines plus test engines by name (each profile gets the same object)."""
    found = dict(engine_providers())
    for name, engine in engines.items():

        def create(settings: EngineSettings, engine: object = engine) -> object:
            return engine

        found[name] = EngineProvider(name=name, summary="test engine", create=create)  # type: ignore[arg-type]
    return found


class Recorder:
    """Collects what a Runtime's listener receives, and waits for a message."""

    def __init__(self, runtime: Runtime) -> None:
        self.messages: list[LiveMessage] = []
        self._changed = threading.Condition()
        self.unsubscribe = runtime.subscribe(self._receive)

    def _receive(self, message: LiveMessage) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[LiveMessage], bool]) -> LiveMessage:
        with self._changed:
            found: list[LiveMessage] = []

            def seen() -> bool:
                found[:] = [message for message in self.messages if predicate(message)]
                return bool(found)

            assert self._changed.wait_for(seen, WAIT), "the awaited message never came"
            return found[0]

    def events(self, turn_id: str | None = None) -> list[RuntimeEvent]:
        with self._changed:
            return [
                message
                for message in self.messages
                if isinstance(message, RuntimeEvent)
                and (turn_id is None or message.turn_id == turn_id)
            ]

    def deltas(self, turn_id: str) -> list[TurnTextDelta]:
        with self._changed:
            return [
                message
                for message in self.messages
                if isinstance(message, TurnTextDelta) and message.turn_id == turn_id
            ]


def event_is(kind: str, turn_id: str | None = None) -> Callable[[LiveMessage], bool]:
    def matches(message: LiveMessage) -> bool:
        return (
            isinstance(message, RuntimeEvent)
            and message.kind == kind
            and (turn_id is None or message.turn_id == turn_id)
        )

    return matches
