"""The engine contract: what an engine receives for one step of a turn and what it yields back.

A *turn* answers one input. The Runtime owns it: it builds the history, runs the steps, records
what is durable, runs tools, enforces timeouts and handles interrupts. An engine only turns one
:class:`StepRequest` into an async stream of :class:`EngineEvent` values:

- zero or more :class:`TextDelta` (pieces of the assistant's text, as they are generated),
- then exactly one :class:`AssistantMessage`: the step's complete text (equal to the deltas
  joined) and the tool calls the step ends with, if any (the Runtime runs them and asks for
  another step with their results appended to the history),
- and at most one :class:`Usage`, before or after the message, when the provider reports it.

A step that cannot complete ends with :class:`EngineFailed` (or raises :class:`EngineError`,
which means the same) carrying a typed :data:`FailureReason`; nothing may follow a failure.

Cancellation: to interrupt a step, the Runtime cancels the task iterating the stream (the
engine sees ``asyncio.CancelledError`` at its current ``await``) and then closes the async
generator. An engine must let the cancellation through and release its connection in a
``finally`` block, so the provider sees the disconnect at once and stops generating.

Retries are the engine's business and happen only before a stream starts (``max_retries``);
the Runtime bounds the wait for every event, the first included, by ``EngineSettings.timeout``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal, Protocol, TypeAlias

import attrs

FailureReason: TypeAlias = Literal[
    "engine_unavailable",
    "engine_timeout",
    "engine_rate_limited",
    "engine_auth",
    "engine_bad_response",
]
FAILURE_REASONS: tuple[FailureReason, ...] = (
    "engine_unavailable",
    "engine_timeout",
    "engine_rate_limited",
    "engine_auth",
    "engine_bad_response",
)

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]


# --- what an engine receives ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ToolCall:
    """A call the model asked for. ``arguments`` is JSON text exactly as the model produced it."""

    call_id: str
    name: str
    arguments: str


@attrs.frozen(kw_only=True)
class Message:
    """One message of the history, in chat-completions terms.

    ``assistant`` messages may carry ``tool_calls``; a ``tool`` message answers one call
    (``tool_call_id``) with ``content`` as its result text, ``is_error`` when the call failed.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False


@attrs.frozen(kw_only=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON Schema of its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class EngineSettings:
    """A profile's settings as an engine sees them. ``options`` holds engine-specific keys.

    ``api_key_env`` names the environment variable that holds the key: the key itself is read
    by the engine when it connects and is never stored, logged or put into an error message.
    """

    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    #: Seconds to wait for the engine's next event (the first included).
    timeout: float = 60.0
    #: Attempts after the first, before a stream starts (never once it has).
    max_retries: int = 2
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class StepRequest:
    """One step of a turn: the whole history to send (system text, earlier turns, this turn's
    input and any tool results of earlier steps) and the tools the Worker may call."""

    worker_id: str
    turn_id: str
    #: 0 for a turn's first step, then 1, 2, ... after each round of tool calls.
    step: int
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()


# --- what an engine yields --------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TextDelta:
    text: str


@attrs.frozen(kw_only=True)
class AssistantMessage:
    """The step's complete assistant message; non-empty ``tool_calls`` ask for another step."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()


@attrs.frozen(kw_only=True)
class Usage:
    input_tokens: int
    output_tokens: int


@attrs.frozen(kw_only=True)
class EngineFailed:
    """The step failed. ``message`` is safe to show: never a key, never a provider's raw body."""

    reason: FailureReason
    message: str


EngineEvent: TypeAlias = TextDelta | AssistantMessage | Usage | EngineFailed


class EngineError(Exception):
    """Raised by an engine instead of yielding :class:`EngineFailed`; same meaning."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason: FailureReason = reason
        self.message = message


class EngineConfigError(ValueError):
    """A profile's settings do not suit the engine (an unknown option, a bad value). Raised when
    the Runtime starts, so a mistake in the configuration never waits for the first turn."""


# --- engines and the plugins that provide them ------------------------------------------------


class Engine(Protocol):
    """An engine bound to one profile's settings; the Runtime keeps it for its whole life."""

    def run_step(self, request: StepRequest) -> AsyncIterator[EngineEvent]:
        """Run one step. Usually an ``async def`` generator; see the module docstring."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections; called once when the Runtime closes."""
        ...


@attrs.frozen(kw_only=True)
class EngineProvider:
    """What a ``yoi.worker_engine`` plugin registers: an engine's name and how to build one.

    ``create`` validates the settings (raising :class:`EngineConfigError`) and returns an engine;
    it must not connect anywhere yet. ``create`` is None for an engine that runs no turns
    (the built-in ``none``: input is recorded only).
    """

    name: str
    summary: str
    create: Callable[[EngineSettings], Engine] | None
