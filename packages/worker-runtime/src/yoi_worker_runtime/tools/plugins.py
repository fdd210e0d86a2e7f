"""The ``yoi.worker_tool`` extension point: how tools are found.

A distribution adds tools with one entry point in the ``yoi.worker_tool`` group naming a module
that implements :meth:`~.hooks.ToolHookSpec.yoi_worker_tools` with :data:`~.hooks.hookimpl`. No
tool is built in: a Runtime without tool plugins has none, and a Worker gets only the tools the
Runtime allows. Plugin modules must be cheap to import.
"""

from __future__ import annotations

from yoi_base.registry import ExtensionPoint, registry

from yoi_worker_runtime.tools.contract import Tool
from yoi_worker_runtime.tools.hooks import ENTRY_POINT_GROUP, ToolHookSpec, hookimpl

TOOLS: ExtensionPoint[Tool] = ExtensionPoint(
    group=ENTRY_POINT_GROUP,
    hookspecs=ToolHookSpec,
    hook="yoi_worker_tools",
    kind="tool",
    key=lambda tool: tool.name,
    distribution="yoi-worker-runtime",
    builtins={},
)


def installed_tools() -> dict[str, Tool]:
    """Every installed tool by name (``YOI_DISABLE_PLUGIN_AUTOLOAD`` leaves none)."""
    return {name: registered.item for name, registered in registry(TOOLS).registered.items()}


__all__ = ["ENTRY_POINT_GROUP", "TOOLS", "ToolHookSpec", "hookimpl", "installed_tools"]
