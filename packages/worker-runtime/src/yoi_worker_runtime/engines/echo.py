"""The built-in ``echo`` engine: a deterministic reply for demos and tests, no model needed.

The reply to a step is ``echo: `` followed by the latest input (user or system message), streamed in
``chunks`` pieces, each after a pause of ``chunk_delay_ms``. Options:

- ``chunks`` (int >= 1, default 1) and ``chunk_delay_ms`` (number >= 0, default 0): slow turns;
- ``fail_with`` (a failure reason): stream the first half of the chunks, then fail that way;
- ``tool_calls`` (a list of ``{"name": ..., "arguments": {...}}``): the turn's first step asks for
  those calls instead of replying; the next step replies with their results, one
  ``name: result`` line each.

Usage is counted in words: every message of the request in, the reply out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from yoi_worker_runtime.engines.contract import (
    FAILURE_REASONS,
    AssistantMessage,
    EngineConfigError,
    EngineEvent,
    EngineFailed,
    EngineSettings,
    FailureReason,
    Message,
    StepRequest,
    TextDelta,
    ToolCall,
    Usage,
)

OPTION_KEYS = ("chunks", "chunk_delay_ms", "fail_with", "tool_calls")


@attrs.frozen(kw_only=True)
class EchoOptions:
    chunks: int = 1
    chunk_delay_ms: float = 0.0
    fail_with: FailureReason | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tool_calls_of(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise EngineConfigError("echo option tool_calls must be a list of {name, arguments}")
    calls = []
    for position, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise EngineConfigError(f"echo option tool_calls[{position}] needs a string name")
        unknown = set(item) - {"name", "arguments"}
        if unknown:
            raise EngineConfigError(
                f"echo option tool_calls[{position}] has unknown keys: {', '.join(sorted(unknown))}"
            )
        arguments = item.get("arguments", {})
        calls.append((item["name"], json.dumps(arguments, ensure_ascii=False)))
    return tuple(calls)


def parse_options(options: Mapping[str, Any]) -> EchoOptions:
    """The echo options of a profile; EngineConfigError names the first problem."""
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise EngineConfigError(
            f"unknown echo option {unknown[0]!r}; known: {', '.join(OPTION_KEYS)}"
        )
    chunks = options.get("chunks", 1)
    if not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 1:
        raise EngineConfigError(f"echo option chunks must be an integer >= 1, got {chunks!r}")
    delay = options.get("chunk_delay_ms", 0)
    if not _is_number(delay) or delay < 0:
        raise EngineConfigError(f"echo option chunk_delay_ms must be a number >= 0, got {delay!r}")
    fail_with = options.get("fail_with")
    if fail_with is not None and fail_with not in FAILURE_REASONS:
        raise EngineConfigError(
            f"echo option fail_with must be one of {', '.join(FAILURE_REASONS)}, got {fail_with!r}"
        )
    tool_calls = _tool_calls_of(options["tool_calls"]) if "tool_calls" in options else ()
    return EchoOptions(
        chunks=chunks, chunk_delay_ms=float(delay), fail_with=fail_with, tool_calls=tool_calls
    )


def split_text(text: str, chunks: int) -> list[str]:
    """``text`` in ``chunks`` pieces as even as possible (fewer when the text is shorter)."""
    count = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _words(text: str) -> int:
    return len(text.split())


def reply_to(messages: tuple[Message, ...]) -> str:
    """What echo answers to a history: its latest tool results, else its latest input."""
    results: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.append(message)
    if results:
        names = {
            call.call_id: call.name
            for message in messages
            if message.role == "assistant"
            for call in message.tool_calls
        }
        lines = [f"{names.get(item.tool_call_id or '', '?')}: {item.content}" for item in results]
        return "\n".join(reversed(lines))
    for message in reversed(messages):
        if message.role in ("user", "system"):
            return f"echo: {message.content}"
    return "echo:"


class EchoEngine:
    """See the module docstring."""

    def __init__(self, options: EchoOptions) -> None:
        self.options = options

    async def run_step(self, request: StepRequest) -> AsyncIterator[EngineEvent]:
        options = self.options
        input_tokens = sum(_words(message.content) for message in request.messages)
        if options.tool_calls and request.step == 0:
            calls = tuple(
                ToolCall(call_id=f"{request.turn_id}-{index}", name=name, arguments=arguments)
                for index, (name, arguments) in enumerate(options.tool_calls)
            )
            yield AssistantMessage(text="", tool_calls=calls)
            yield Usage(input_tokens=input_tokens, output_tokens=0)
            return
        reply = reply_to(request.messages)
        pieces = split_text(reply, options.chunks)
        if options.fail_with is not None:
            pieces = pieces[: len(pieces) // 2]
        for piece in pieces:
            if options.chunk_delay_ms:
                await asyncio.sleep(options.chunk_delay_ms / 1000)
            yield TextDelta(text=piece)
        if options.fail_with is not None:
            yield EngineFailed(
                reason=options.fail_with, message="the echo engine failed on purpose"
            )
            return
        yield AssistantMessage(text=reply)
        yield Usage(input_tokens=input_tokens, output_tokens=_words(reply))

    async def aclose(self) -> None:
        pass


def create_echo(settings: EngineSettings) -> EchoEngine:
    return EchoEngine(parse_options(settings.options))
