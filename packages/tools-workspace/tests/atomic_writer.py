"""Child process for the crash test: replaces one file with write_file until killed.

Usage: atomic_writer.py WORKSPACE RUN SIZE

Version ``i`` of ``notes/data.txt`` is ``RUN:i:`` padded with ``x`` to SIZE bytes. After each
write_file call returns it prints ``wrote i``, flushed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from yoi_tools_workspace import workspace_tools
from yoi_worker_runtime.model import WorkerRef
from yoi_worker_runtime.tools import ToolContext


def main(workspace: str, run: str, size: str) -> None:
    (write_file,) = [tool for tool in workspace_tools() if tool.name == "write_file"]
    context = ToolContext(
        worker_ref=WorkerRef(runtime_id="test", worker_id="writer"), workspace=Path(workspace)
    )
    version = 0
    while True:
        content = f"{run}:{version}:".ljust(int(size), "x")
        write_file.run({"path": "notes/data.txt", "content": content}, context)
        print(f"wrote {version}", flush=True)
        version += 1


if __name__ == "__main__":
    main(*sys.argv[1:])
