"""A writer killed at any moment leaves the old or the new content, never a mix."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
from pathlib import Path

from workspace_calls import call
from yoi_tools_workspace.confinement import TEMP_PREFIX
from yoi_worker_runtime.tools import ToolContext

WRITER = str(Path(__file__).with_name("atomic_writer.py"))
KILLS = 20
SIZE = 512 * 1024
VERSION = re.compile(r"(\d+):(\d+):x+")


def _writer(workspace: Path, run: int, hold_at: int | None = None) -> subprocess.Popen[str]:
    hold = [] if hold_at is None else [str(hold_at)]
    return subprocess.Popen(
        [sys.executable, WRITER, str(workspace), str(run), str(SIZE), *hold],
        stdout=subprocess.PIPE,
        text=True,
    )


def _kill(writer: subprocess.Popen[str]) -> None:
    writer.send_signal(signal.SIGKILL)
    writer.communicate()
    assert writer.returncode == -signal.SIGKILL


def _version(context: ToolContext, run: int) -> tuple[int, int]:
    content = call(context, "read_file", path="notes/data.txt")
    match = VERSION.fullmatch(content)
    assert match is not None and len(content) == SIZE, f"run {run}: a torn file"
    return int(match[1]), int(match[2])


def _leftovers(workspace: Path) -> list[str]:
    return sorted(p.name for p in (workspace / "notes").iterdir() if p.name != "data.txt")


def test_a_sigkilled_writer_leaves_a_whole_version_of_the_file(
    context: ToolContext, workspace: Path
) -> None:
    call(context, "write_file", path="notes/data.txt", content="0:0:".ljust(SIZE, "x"))
    acknowledged = (0, 0)
    rng = random.Random(20240613)
    # Killed at a random moment of a later write: after 1 to 3 acknowledged writes.
    for run in range(1, KILLS + 1):
        writer = _writer(workspace, run)
        assert writer.stdout is not None
        for _ in range(rng.randint(1, 3)):
            line = writer.stdout.readline()
            acknowledged = (run, int(line.removeprefix("wrote ")))
        _kill(writer)
        found = _version(context, run)
        assert found >= acknowledged, f"run {run}: {found} is older than {acknowledged}"
    assert all(name.startswith(TEMP_PREFIX) for name in _leftovers(workspace))


def test_a_writer_killed_before_its_rename_leaves_the_old_file_and_only_a_temporary_one(
    context: ToolContext, workspace: Path
) -> None:
    call(context, "write_file", path="notes/data.txt", content="0:0:".ljust(SIZE, "x"))
    # The crash window on purpose: version 2 is written and synced, its rename not yet done.
    writer = _writer(workspace, 1, hold_at=2)
    assert writer.stdout is not None
    lines = [writer.stdout.readline().strip() for _ in range(3)]
    assert lines == ["wrote 0", "wrote 1", "holding 2"]
    _kill(writer)
    assert _version(context, 1) == (1, 1)
    (leftover,) = _leftovers(workspace)
    assert leftover.startswith(TEMP_PREFIX)
    # The whole new version was in the temporary file: only the rename was missing.
    assert (workspace / "notes" / leftover).read_text().startswith("1:2:")
    # The next write replaces the file as usual; the killed writer's leftover stays visible.
    call(context, "write_file", path="notes/data.txt", content="2:0:".ljust(SIZE, "x"))
    assert _version(context, 2) == (2, 0)
