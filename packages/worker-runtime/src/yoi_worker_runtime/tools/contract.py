"""The tool contract: what a tool declares and what it receives when a Worker calls it.

A tool is a name, a description the model reads, a JSON Schema of its arguments (the subset
:mod:`.arguments` checks), whether it has side effects, a timeout, and a callable, plain or
``async``, taking the parsed arguments and a :class:`ToolContext`. It returns the result text
the model sees; raising :class:`ToolError` makes an error result (``is_error``) with its message.
Any other exception is a crash: the model sees a short error result, the server log has the
traceback.

The Runtime validates the arguments against the schema before the call (invalid arguments are an
error result the model sees, never an exception), enforces the timeout, and records the call and
its result. On an interrupt or a timeout it sets ``context.cancelled`` and, for an async tool,
cancels its task; a sync tool (run in a worker thread) should check ``cancelled`` between units of
work: the Runtime stops waiting for it after a short grace and records a synthetic result.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import attrs

from yoi_worker_runtime.model import WorkerRef


class ToolError(Exception):
    """The call failed in a way the model should see: the message becomes the error result."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@attrs.frozen(kw_only=True)
class ToolContext:
    """What a running call may use besides its arguments."""

    worker_ref: WorkerRef
    #: The Worker's own workspace directory (it may not exist yet: tools create it on first
    #: use). None when the Runtime has no workspace root (an in-memory Runtime without one).
    workspace: Path | None
    #: Set when the call is to stop: interrupted, timed out, or the Runtime closing.
    cancelled: threading.Event = attrs.field(factory=threading.Event)


ToolFunction: TypeAlias = Callable[[Mapping[str, Any], ToolContext], str | Awaitable[str]]


@attrs.frozen(kw_only=True)
class Tool:
    """What a ``yoi.worker_tool`` plugin registers."""

    name: str
    description: str
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    side_effects: bool = False
    #: Seconds a call may run before it ends as an error result.
    timeout: float = 30.0
    run: ToolFunction
