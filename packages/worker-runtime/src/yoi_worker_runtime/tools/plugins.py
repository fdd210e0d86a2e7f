"""The ``yoi.worker_tool`` extension point: how tools are found.

A distribution adds tools with one entry point in the ``yoi.worker_tool`` group naming a module
that implements :func:`ToolHookSpec.yoi_worker_tools` with :data:`hookimpl`. No tool is built
in: a Runtime without tool plugins has none. Plugin modules must be cheap to import.
"""

from __future__ import annotations

import os
from functools import cache
from typing import cast

import pluggy

from yoi_worker_runtime.tools.contract import Tool

ENTRY_POINT_GROUP = "yoi.worker_tool"
DISABLE_AUTOLOAD_ENV = "YOI_DISABLE_PLUGIN_AUTOLOAD"

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)


class ToolHookSpec:
    @hookspec
    def yoi_worker_tools(self) -> list[Tool]:  # type: ignore[empty-body]
        """Return the tools this plugin provides."""


class ToolConflictError(RuntimeError):
    """Two plugins provide a tool of the same name."""


@cache
def _tools(autoload: bool) -> dict[str, tuple[Tool, str]]:
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(ToolHookSpec)
    if autoload:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    origin = {
        manager.get_name(plugin) or "": dist.project_name
        for plugin, dist in manager.list_plugin_distinfo()
    }
    found: dict[str, tuple[Tool, str]] = {}
    for impl in manager.hook.yoi_worker_tools.get_hookimpls():
        distribution = origin.get(impl.plugin_name, "unknown")
        for tool in cast(list[Tool], impl.function()):
            if tool.name in found:
                raise ToolConflictError(
                    f"tool {tool.name!r} is provided by both {found[tool.name][1]} "
                    f"and {distribution}; uninstall one of them"
                )
            found[tool.name] = (tool, distribution)
    return found


def installed_tools() -> dict[str, Tool]:
    """Every installed tool by name (``YOI_DISABLE_PLUGIN_AUTOLOAD`` leaves none)."""
    autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    return {name: tool for name, (tool, _) in _tools(autoload).items()}
