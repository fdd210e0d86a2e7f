"""File tools for yoi Workers, confined to each Worker's workspace directory.

``list_files``, ``read_file``, ``write_file`` and ``search_files`` reach the Runtime through the
``yoi.worker_tool`` entry point (:mod:`.plugins`); :func:`workspace_tools` builds them with other
limits for a Runtime assembled in code.
"""

from __future__ import annotations

from yoi_tools_workspace.tools import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, Limits, workspace_tools

__all__ = ["DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "Limits", "workspace_tools"]
