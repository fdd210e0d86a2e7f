"""Calling the workspace tools as the Runtime does: arguments checked against the schema first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from yoi_tools_workspace import Limits, workspace_tools
from yoi_worker_runtime.model import WorkerRef
from yoi_worker_runtime.tools import Tool, ToolContext, ToolError
from yoi_worker_runtime.tools.arguments import parse_arguments

TOOLS = {tool.name: tool for tool in workspace_tools()}


def context_for(workspace: Path | None) -> ToolContext:
    return ToolContext(worker_ref=WorkerRef(runtime_id="test", worker_id="w1"), workspace=workspace)


def tools_with(limits: Limits) -> dict[str, Tool]:
    return {tool.name: tool for tool in workspace_tools(limits)}


def call_using(tools: dict[str, Tool], context: ToolContext, name: str, /, **arguments: Any) -> str:
    """The tool's result text; arguments go through the Runtime's schema check."""
    tool = tools[name]
    result = tool.run(parse_arguments(json.dumps(arguments), tool.parameters), context)
    assert isinstance(result, str)
    return result


def call(context: ToolContext, name: str, /, **arguments: Any) -> str:
    return call_using(TOOLS, context, name, **arguments)


def refusal_using(
    tools: dict[str, Tool], context: ToolContext, name: str, /, **arguments: Any
) -> str:
    """The message of the ToolError the call ends with."""
    with pytest.raises(ToolError) as caught:
        call_using(tools, context, name, **arguments)
    return caught.value.message


def refusal(context: ToolContext, name: str, /, **arguments: Any) -> str:
    return refusal_using(TOOLS, context, name, **arguments)


def direct_refusal(context: ToolContext, name: str, **arguments: Any) -> str:
    """Like :func:`refusal`, but skipping the schema check, so the tool's own checks answer."""
    with pytest.raises(ToolError) as caught:
        TOOLS[name].run(arguments, context)
    return caught.value.message


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file contents, symlink targets, directories as ``dir``."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = f"-> {path.readlink()}"
        elif path.is_dir():
            found[key] = "dir"
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "special"
    return found
