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


def test_a_sigkilled_writer_leaves_a_whole_version_of_the_file(
    context: ToolContext, workspace: Path
) -> None:
    call(context, "write_file", path="notes/data.txt", content="0:0:".ljust(SIZE, "x"))
    acknowledged = (0, 0)
    rng = random.Random(20240613)
    for run in range(1, KILLS + 1):
        writer = subprocess.Popen(
            [sys.executable, WRITER, str(workspace), str(run), str(SIZE)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        # Kill it while it writes a later version: after 1 to 3 acknowledged writes.
        for _ in range(rng.randint(1, 3)):
            line = writer.stdout.readline()
            acknowledged = (run, int(line.removeprefix("wrote ")))
        writer.send_signal(signal.SIGKILL)
        writer.communicate()
        assert writer.returncode == -signal.SIGKILL

        content = call(context, "read_file", path="notes/data.txt")
        match = VERSION.fullmatch(content)
        assert match is not None and len(content) == SIZE, f"run {run}: a torn file"
        found = (int(match[1]), int(match[2]))
        assert found >= acknowledged, f"run {run}: {found} is older than {acknowledged}"
    # Only temporary files of killed writers remain beside the file, and at least one kill
    # landed while a temporary file existed: the crash window was exercised.
    leftovers = sorted(p.name for p in (workspace / "notes").iterdir() if p.name != "data.txt")
    assert leftovers and all(name.startswith(TEMP_PREFIX) for name in leftovers)
