"""The ``yoi.worker_tool`` hook: what a tool plugin implements, and its marker.

A plugin module implements :meth:`ToolHookSpec.yoi_worker_tools` decorated with
:data:`hookimpl` and returns the :class:`~.contract.Tool` objects it offers.
"""

from __future__ import annotations

import pluggy

from yoi_worker_runtime.tools.contract import Tool

ENTRY_POINT_GROUP = "yoi.worker_tool"

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)


class ToolHookSpec:
    @hookspec
    def yoi_worker_tools(self) -> list[Tool]:  # type: ignore[empty-body]
        """Return the tools this plugin provides."""
