"""Tools Workers may call: the contract, argument checking and the extension point."""

from __future__ import annotations

from yoi_worker_runtime.tools.contract import Tool, ToolContext, ToolError, ToolFunction
from yoi_worker_runtime.tools.plugins import ENTRY_POINT_GROUP, hookimpl, installed_tools

__all__ = [
    "ENTRY_POINT_GROUP",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFunction",
    "hookimpl",
    "installed_tools",
]
