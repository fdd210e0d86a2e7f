"""The tools reach a Runtime through the ``yoi.worker_tool`` entry point, and only that way."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from yoi_base.registry import DISABLE_AUTOLOAD_ENV
from yoi_tools_workspace import MAX_BYTES_ENV
from yoi_worker_runtime.tools import installed_tools
from yoi_worker_runtime.tools.arguments import check_schema

NAMES = {"list_files", "read_file", "write_file", "search_files"}


def test_the_entry_point_registers_the_four_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    (entry,) = [
        e
        for e in entry_points(group="yoi.worker_tool")
        if e.dist is not None and e.dist.name == "yoi-tools-workspace"
    ]
    assert entry.value == "yoi_tools_workspace.plugins"
    assert set(installed_tools()) >= NAMES


def test_disabling_plugin_autoload_leaves_none_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    assert not NAMES & set(installed_tools())


def test_every_schema_is_one_the_runtime_can_check() -> None:
    for name in NAMES:
        check_schema(installed_tools()[name].parameters, name)


def _run_installed(
    workspace: Path, environment: dict[str, str], code: str
) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter, where the plugin loads with ``environment``."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from yoi_worker_runtime.model import WorkerRef\n"
        "from yoi_worker_runtime.tools import ToolContext, ToolError, installed_tools\n"
        "ref = WorkerRef(runtime_id='test', worker_id='w1')\n"
        "context = ToolContext(worker_ref=ref, workspace=Path(sys.argv[1]))\n" + code
    )
    return subprocess.run(
        [sys.executable, "-c", script, str(workspace)],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_environment_variable_sets_the_limits_of_the_installed_tools(workspace: Path) -> None:
    code = (
        "tools = installed_tools()\n"
        "print(tools['write_file'].run({'path': 'f', 'content': '12345'}, context))\n"
        "try:\n"
        "    tools['write_file'].run({'path': 'f', 'content': '123456'}, context)\n"
        "except ToolError as exc:\n"
        "    print(exc.message)\n"
    )
    done = _run_installed(workspace, {MAX_BYTES_ENV: "5"}, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "created 'f' (5 bytes)",
        "the content is 6 bytes, over the write limit of 5 bytes; nothing was written",
    ]


def test_a_bad_environment_value_stops_the_tools_loading(workspace: Path) -> None:
    done = _run_installed(workspace, {MAX_BYTES_ENV: "lots"}, "installed_tools()\n")
    assert done.returncode != 0
    assert f"{MAX_BYTES_ENV} must be a positive number of bytes, not 'lots'" in done.stderr
