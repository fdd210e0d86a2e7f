"""A fresh workspace path (not yet created) and an outside directory holding a canary."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_calls import context_for
from yoi_worker_runtime.tools import ToolContext

#: The suite's Hypothesis profiles (``ci`` under nox, ``dev`` otherwise).
pytest_plugins = ["yoi_base.hypothesis_profiles"]

CANARY = "CANARY: outside the workspace"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "data" / "workspaces" / "w1"


@pytest.fixture
def context(workspace: Path) -> ToolContext:
    return context_for(workspace)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the workspace with the same layout the tests use inside it."""
    root = tmp_path / "outside"
    (root / "a" / "b" / "c").mkdir(parents=True)
    for directory in (root, root / "a", root / "a" / "b", root / "a" / "b" / "c"):
        (directory / "f.txt").write_text(CANARY)
    return root
