"""The tools a Runtime allows, and how one call runs: checked, bounded, cancellable.

A Worker may call a tool only if it requested it (``requested_capabilities``) and the Runtime
allows it (``allow_tools``). Each call's arguments are checked against the tool's schema first;
anything that goes wrong (unknown tool, invalid arguments, ToolError, a crash, the timeout) is
an error result the model sees, never an exception that ends the turn.

A sync tool runs in a daemon thread of its own, so a tool that ignores its cancellation signal
is abandoned after :data:`CANCEL_GRACE` seconds instead of holding up the turn, the Runtime or the
process's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from yoi_worker_runtime.engines.contract import ToolCall, ToolSpec
from yoi_worker_runtime.errors import ToolNotAllowed, UnknownTool
from yoi_worker_runtime.model import RequestedCapability, WorkerRef
from yoi_worker_runtime.profiles import ConfigError
from yoi_worker_runtime.tools.arguments import ToolSchemaError, check_schema, parse_arguments
from yoi_worker_runtime.tools.contract import Tool, ToolContext, ToolError

T = TypeVar("T")

logger = logging.getLogger("yoi_worker_runtime.tools")

#: Seconds an interrupted sync tool gets to notice its cancellation before it is abandoned.
CANCEL_GRACE = 1.0


def _in_daemon_thread(function: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``function`` in a new daemon thread; the future completes with its outcome."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def run() -> None:
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting task, which decides
            error = exc
            loop.call_soon_threadsafe(settle, lambda: future.set_exception(error))
        else:
            loop.call_soon_threadsafe(settle, lambda: future.set_result(result))

    threading.Thread(target=run, name="yoi-tool", daemon=True).start()
    return future


class ToolBox:
    """The tools a Runtime allows, checked when it opens."""

    def __init__(
        self,
        allowed: Sequence[str],
        installed: Mapping[str, Tool],
        workspace_root: Path | None = None,
    ) -> None:
        self.installed = dict(installed)
        self.workspace_root = workspace_root
        self.allowed: dict[str, Tool] = {}
        for name in allowed:
            tool = self.installed.get(name)
            if tool is None:
                shown = ", ".join(sorted(self.installed)) or "none"
                raise ConfigError(
                    f"allow_tools names {name!r}, which no installed tool plugin provides "
                    f"(installed: {shown})"
                )
            try:
                check_schema(tool.parameters)
            except ToolSchemaError as exc:
                raise ConfigError(f"tool {name!r}: {exc}") from None
            self.allowed[name] = tool

    def check_request(self, capabilities: Sequence[RequestedCapability]) -> None:
        """UnknownTool or ToolNotAllowed for the first capability nothing here provides."""
        for capability in capabilities:
            if capability.name not in self.installed:
                raise UnknownTool(capability.name, sorted(self.installed))
            if capability.name not in self.allowed:
                raise ToolNotAllowed(capability.name, sorted(self.allowed))

    def granted(self, capabilities: Sequence[RequestedCapability]) -> list[Tool]:
        """The tools a Worker with these capabilities may call, in its request's order."""
        names = dict.fromkeys(capability.name for capability in capabilities)
        return [self.allowed[name] for name in names if name in self.allowed]

    def specs(self, capabilities: Sequence[RequestedCapability]) -> tuple[ToolSpec, ...]:
        return tuple(
            ToolSpec(name=tool.name, description=tool.description, parameters=tool.parameters)
            for tool in self.granted(capabilities)
        )

    async def run(
        self, ref: WorkerRef, capabilities: Sequence[RequestedCapability], call: ToolCall
    ) -> tuple[str, bool]:
        """Run one call; returns the result text and whether it is an error result. Cancelling
        the awaiting task sets the call's cancellation signal (then re-raises)."""
        tool = next((tool for tool in self.granted(capabilities) if tool.name == call.name), None)
        if tool is None:
            return f"tool {call.name!r} is not available to this Worker", True
        try:
            arguments = parse_arguments(call.arguments, tool.parameters)
        except ToolError as error:
            return error.message, True
        workspace = None if self.workspace_root is None else self.workspace_root / ref.worker_id
        context = ToolContext(worker_ref=ref, workspace=workspace)
        try:
            return await self._call(tool, arguments, context), False
        except ToolError as error:
            return error.message, True
        except TimeoutError:
            context.cancelled.set()
            return f"tool {tool.name!r} timed out after {tool.timeout:g} seconds", True
        except asyncio.CancelledError:
            context.cancelled.set()
            raise
        except Exception as exc:
            logger.exception("tool %s crashed", tool.name)
            return f"tool {tool.name!r} failed unexpectedly ({type(exc).__name__})", True

    async def _call(self, tool: Tool, arguments: dict[str, Any], context: ToolContext) -> str:
        result: object
        if inspect.iscoroutinefunction(tool.run):
            result = await asyncio.wait_for(_awaited(tool.run(arguments, context)), tool.timeout)
        else:
            running: asyncio.Future[object] = _in_daemon_thread(
                lambda: tool.run(arguments, context)
            )
            try:
                result = await asyncio.wait_for(asyncio.shield(running), tool.timeout)
            except asyncio.CancelledError:
                context.cancelled.set()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(running), CANCEL_GRACE)
                raise
        if not isinstance(result, str):
            raise ToolError(f"tool {tool.name!r} returned {type(result).__name__}, not text")
        return result


async def _awaited(value: str | Awaitable[str]) -> str:
    return await value if inspect.isawaitable(value) else value
