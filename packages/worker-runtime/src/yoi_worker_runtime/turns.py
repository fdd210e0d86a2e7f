"""Running turns: the Runtime's event-loop thread and the coroutine that drives one turn.

The Runtime's API is synchronous and thread-safe; engines are async. A Runtime that runs turns
owns one daemon thread with an asyncio loop (:class:`TurnLoop`), started with its first turn;
every running turn is one task there (:func:`drive_turn`). The task owns nothing durable: it
asks its :class:`TurnHost` (the Runtime) to publish deltas and to commit each completed step,
and the host refuses both once the turn has ended. That refusal, taken under the Runtime's
lock, is what makes "nothing an interrupted turn produced lands after ``turn_interrupted``"
hold by construction, whatever the engine does after it is cancelled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import attrs

from yoi_worker_runtime.engines.contract import (
    AssistantMessage,
    Engine,
    EngineError,
    EngineFailed,
    StepRequest,
    TextDelta,
    Usage,
)

T = TypeVar("T")

logger = logging.getLogger("yoi_worker_runtime.turns")

#: Seconds a closing Runtime waits for its turn tasks and engines to wind down.
CLOSE_TIMEOUT = 5.0


class TurnLoop:
    """A daemon thread running an asyncio loop, started on first use."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._loop is not None

    def in_loop_thread(self) -> bool:
        return self._thread is threading.current_thread()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` as a task on the loop; the future completes with it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._ensure())

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop's thread (from any thread), if the loop runs."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)

    def close(self, final: Coroutine[Any, Any, None] | None = None) -> None:
        """Run ``final`` (if the loop ever started), cancel what is left, stop the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            if final is not None:
                final.close()
            return
        if final is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(final, loop).result(CLOSE_TIMEOUT)

        async def cancel_rest() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT) if tasks else None

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_rest(), loop).result(CLOSE_TIMEOUT * 2)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CLOSE_TIMEOUT)
        if not thread.is_alive():
            loop.close()


@attrs.frozen
class StepFailedError(Exception):
    """A step could not complete; the turn fails with this reason."""

    reason: str
    message: str


class TurnEndedError(Exception):
    """The host refused a commit or delta: the turn has already ended (interrupted, stopped)."""


class TurnHost(Protocol):
    """What :func:`drive_turn` needs from the Runtime; each method raises TurnEndedError once the
    turn has ended (interrupted, stopped) and must not touch it any more."""

    def step_request(self, turn_id: str, step: int) -> StepRequest: ...

    def publish_delta(self, turn_id: str, text: str) -> None: ...

    def complete(
        self, turn_id: str, message: AssistantMessage, usage: Usage | None
    ) -> Awaitable[None]:
        """Record the final message and end the turn as completed."""
        ...

    def call_tools(
        self, turn_id: str, message: AssistantMessage, usage: Usage | None
    ) -> Awaitable[None]:
        """Record a message that asks for tool calls, run them and record their results."""
        ...

    def fail(self, turn_id: str, failure: StepFailedError) -> Awaitable[None]:
        """End the turn as failed."""
        ...


class _Watchdog:
    """Cancels the task reading a stream once ``timeout`` seconds pass without an event.

    Instead of a timer per event (``asyncio.wait_for`` costs a task and a timer each time), the
    reader only notes when the last event came (:meth:`fed`); the one timer, when it fires,
    re-arms itself for the time still left or cancels the reader."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.fired = False
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._last = self._loop.time()
        self._handle = self._loop.call_at(self._last + timeout, self._check)

    def fed(self) -> None:
        self._last = self._loop.time()

    def _check(self) -> None:
        due = self._last + self.timeout
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
        elif self._task is not None:
            self.fired = True
            self._task.cancel()

    def stop(self) -> None:
        self._handle.cancel()

    def timed_out(self) -> bool:
        """After a CancelledError: True when this watchdog caused it (and no one else did)."""
        return self.fired and self._task is not None and self._task.uncancel() == 0


async def run_step(
    host: TurnHost, engine: Engine, request: StepRequest, timeout: float
) -> tuple[AssistantMessage, Usage | None]:
    """One engine step: relay its deltas, return its message and usage; StepFailedError if it
    fails, sends nothing for ``timeout`` seconds, or breaks the contract. The engine's stream
    is closed however the step ends."""
    stream = engine.run_step(request)
    message: AssistantMessage | None = None
    usage: Usage | None = None
    watchdog = _Watchdog(timeout)
    try:
        async for event in stream:
            watchdog.fed()
            if type(event) is TextDelta:
                if message is not None:
                    raise StepFailedError(
                        "engine_bad_response", "the engine sent text after its message"
                    )
                if event.text:
                    host.publish_delta(request.turn_id, event.text)
            elif isinstance(event, AssistantMessage):
                if message is not None:
                    raise StepFailedError(
                        "engine_bad_response", "the engine sent two messages in a step"
                    )
                message = event
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, EngineFailed):
                raise StepFailedError(event.reason, event.message)
            else:
                raise StepFailedError(
                    "engine_bad_response", f"the engine sent {type(event).__name__}"
                )
    except asyncio.CancelledError:
        if watchdog.timed_out():
            raise StepFailedError(
                "engine_timeout", f"the engine sent nothing for {timeout:g} seconds"
            ) from None
        raise
    except EngineError as error:
        raise StepFailedError(error.reason, error.message) from None
    finally:
        watchdog.stop()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    if message is None:
        raise StepFailedError("engine_bad_response", "the engine's stream ended without a message")
    return message, usage


async def drive_turn(
    host: TurnHost, engine: Engine, turn_id: str, max_steps: int, timeout: float
) -> None:
    """Run a turn's steps until the engine answers without tool calls, or fail it. Cancellation
    (an interrupt) ends the task at once: whoever cancelled it has already ended the turn."""
    try:
        for step in range(max_steps):
            request = host.step_request(turn_id, step)
            message, usage = await run_step(host, engine, request, timeout)
            if not message.tool_calls:
                await host.complete(turn_id, message, usage)
                return
            await host.call_tools(turn_id, message, usage)
        failure = StepFailedError("max_steps", f"the turn used all {max_steps} steps")
    except StepFailedError as error:
        failure = error
    except TurnEndedError:
        return
    except Exception:
        logger.exception("turn %s failed unexpectedly", turn_id)
        failure = StepFailedError("engine_bad_response", "the engine failed unexpectedly")
    with contextlib.suppress(TurnEndedError):
        await host.fail(turn_id, failure)
