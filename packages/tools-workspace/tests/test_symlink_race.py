"""A process swapping workspace entries for symlinks out of it never gets a tool outside."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from conftest import CANARY
from workspace_calls import call, snapshot
from yoi_worker_runtime.tools import ToolContext, ToolError

SWAPPER = str(Path(__file__).with_name("swapper.py"))
MIN_ROUNDS = 200
DEADLINE_SECONDS = 90


def test_swapping_symlinks_in_never_reads_or_changes_anything_outside(
    context: ToolContext, workspace: Path, outside: Path
) -> None:
    (workspace / "d").mkdir(parents=True)
    (workspace / "d" / "f.txt").write_text("inside")
    (workspace / "e").mkdir()
    (workspace / "e" / "f").write_text("inside")
    outside_before = snapshot(outside)

    def search() -> str:
        found = call(context, "search_files", pattern="CANARY")
        assert found == "(no match for 'CANARY' under '.')"
        return found

    def listing() -> str:
        found = call(context, "list_files", recursive=True)
        assert "/b/" not in found and "d/b" not in found  # outside/a has b/, d never does
        return found

    operations: dict[str, Callable[[], str]] = {
        "read d": lambda: call(context, "read_file", path="d/f.txt"),
        "write d": lambda: call(context, "write_file", path="d/f.txt", content="inside, new"),
        "list d": lambda: call(context, "list_files", path="d"),
        "read e": lambda: call(context, "read_file", path="e/f"),
        "write e": lambda: call(context, "write_file", path="e/f", content="inside, new"),
        "search": search,
        "list all": listing,
    }
    swapper = subprocess.Popen(
        [sys.executable, SWAPPER, str(workspace), str(outside)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert swapper.stdin is not None and swapper.stdout is not None
    assert swapper.stdout.readline() == "ready\n"
    outcomes: Counter[tuple[str, str]] = Counter()
    wanted = {(name, outcome) for name in ("read d", "read e") for outcome in ("ok", "refused")}
    deadline = time.monotonic() + DEADLINE_SECONDS
    rounds = 0
    try:
        while rounds < MIN_ROUNDS or not wanted <= set(outcomes):
            assert time.monotonic() < deadline, f"the race was not exercised: {outcomes}"
            assert swapper.poll() is None, "the swapper stopped"
            for name, operation in operations.items():
                try:
                    result = operation()
                except ToolError as exc:
                    outcomes[name, "refused"] += 1
                    assert CANARY not in exc.message
                else:
                    outcomes[name, "ok"] += 1
                    assert CANARY not in result
                    if name.startswith("read"):
                        assert result in ("inside", "inside, new")
            rounds += 1
    finally:
        swaps, _ = swapper.communicate("stop\n", timeout=30)
    assert swapper.returncode == 0
    assert int(swaps) > 0
    print(f"{rounds} rounds against {swaps.strip()} swaps: {dict(outcomes)}")
    assert snapshot(outside) == outside_before
