"""Entry-point module: registers the workspace tools in the ``yoi.worker_tool`` group.

The limits come from ``YOI_WORKSPACE_MAX_BYTES`` when the Runtime loads its tools; a value that
is not a positive number of bytes stops the loading with an error naming the variable.
"""

from __future__ import annotations

import os

from yoi_worker_runtime.tools import Tool, hookimpl

from yoi_tools_workspace.tools import Limits, workspace_tools


@hookimpl
def yoi_worker_tools() -> list[Tool]:
    return workspace_tools(Limits.from_environment(os.environ))
