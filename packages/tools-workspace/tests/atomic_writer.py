"""Child process for the crash test: replaces one file with write_file until killed.

Usage: atomic_writer.py WORKSPACE RUN SIZE [HOLD_AT]

Version ``i`` of ``notes/data.txt`` is ``RUN:i:`` padded with ``x`` to SIZE bytes. After each
write_file call returns it prints ``wrote i``, flushed. With HOLD_AT, writing that version stops
just before its rename (the temporary file whole and synced, the old file still in place),
prints ``holding HOLD_AT`` and waits there to be killed: the crash window, reached on purpose.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from yoi_tools_workspace import workspace_tools
from yoi_worker_runtime.model import WorkerRef
from yoi_worker_runtime.tools import ToolContext


def _hold_before_rename(version: int) -> None:
    """Make the next rename of this process announce itself and wait forever instead."""

    def held_rename(*args: Any, **kwargs: Any) -> None:
        print(f"holding {version}", flush=True)
        while True:
            signal.pause()

    os.rename = held_rename


def main(workspace: str, run: str, size: str, hold_at: str | None = None) -> None:
    (write_file,) = [tool for tool in workspace_tools() if tool.name == "write_file"]
    context = ToolContext(
        worker_ref=WorkerRef(runtime_id="test", worker_id="writer"), workspace=Path(workspace)
    )
    version = 0
    while True:
        if hold_at is not None and version == int(hold_at):
            _hold_before_rename(version)
        content = f"{run}:{version}:".ljust(int(size), "x")
        write_file.run({"path": "notes/data.txt", "content": content}, context)
        print(f"wrote {version}", flush=True)
        version += 1


if __name__ == "__main__":
    main(*sys.argv[1:])
