"""Every way out of the workspace is refused with a clear error, and nothing changes."""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import CANARY
from workspace_calls import call, context_for, direct_refusal, refusal, snapshot
from yoi_worker_runtime.tools import ToolContext

BAD_PATHS = {
    "..": "contains '..'",
    "../outside/f.txt": "contains '..'",
    "a/../../outside/f.txt": "contains '..'",
    "a/..": "contains '..'",
    "/etc/passwd": "is absolute",
    "//etc/passwd": "is absolute",
    "": "the path is empty",
    "a\0b": "contains a NUL character",
    "a//f.txt": "contains an empty name",
}
#: Arguments each tool needs besides ``path``.
OTHER_ARGUMENTS: dict[str, dict[str, object]] = {
    "list_files": {},
    "read_file": {},
    "write_file": {"content": "overwritten"},
    "search_files": {"pattern": "CANARY"},
}


def _make_tree(workspace: Path) -> None:
    """``a/b/c/f.txt`` with a file at every level, as in the ``outside`` fixture."""
    deepest = workspace / "a" / "b" / "c"
    deepest.mkdir(parents=True)
    for directory in (workspace, workspace / "a", workspace / "a" / "b", deepest):
        (directory / "f.txt").write_text("inside")


@pytest.mark.parametrize("tool", sorted(OTHER_ARGUMENTS))
@pytest.mark.parametrize("path", sorted(BAD_PATHS))
def test_paths_that_could_leave_the_workspace_are_refused(
    tool: str, path: str, context: ToolContext, workspace: Path, outside: Path
) -> None:
    _make_tree(workspace)
    before, outside_before = snapshot(workspace), snapshot(outside)
    message = direct_refusal(context, tool, path=path, **OTHER_ARGUMENTS[tool])
    assert BAD_PATHS[path] in message
    assert snapshot(workspace) == before
    assert snapshot(outside) == outside_before


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_a_symlink_at_any_component_is_refused_by_every_tool(
    depth: int, context: ToolContext, workspace: Path, outside: Path
) -> None:
    _make_tree(workspace)
    names = ["a", "b", "c", "f.txt"]
    swapped = workspace.joinpath(*names[: depth + 1])
    swapped.rename(workspace / "parked")
    swapped.symlink_to(outside.joinpath(*names[: depth + 1]))
    outside_before = snapshot(outside)
    expected = f"'{'/'.join(names[: depth + 1])}' is a symlink"

    assert expected in refusal(context, "read_file", path="a/b/c/f.txt")
    assert expected in refusal(context, "write_file", path="a/b/c/f.txt", content="x")
    if depth < 3:
        assert expected in refusal(context, "list_files", path="a/b/c")
        assert expected in refusal(context, "search_files", pattern="CANARY", path="a/b/c")
    else:
        assert call(context, "list_files", path="a/b/c") == "a/b/c/f.txt (symlink, not followed)"
    assert "no match" in call(context, "search_files", pattern="CANARY")
    assert CANARY not in call(context, "list_files", recursive=True)
    assert snapshot(outside) == outside_before


def test_a_symlink_is_refused_even_when_it_points_inside(
    context: ToolContext, workspace: Path
) -> None:
    _make_tree(workspace)
    (workspace / "alias").symlink_to(workspace / "a")
    assert "'alias' is a symlink" in refusal(context, "read_file", path="alias/f.txt")
    assert "'alias' is a symlink" in refusal(context, "list_files", path="alias")


def test_a_symlink_to_a_device_is_refused_without_touching_it(
    context: ToolContext, workspace: Path
) -> None:
    workspace.mkdir(parents=True)
    (workspace / "null").symlink_to("/dev/null")
    (workspace / "zero").symlink_to("/dev/zero")
    assert "'zero' is a symlink" in refusal(context, "read_file", path="zero")
    assert "'null' is a symlink" in refusal(context, "write_file", path="null", content="x")
    assert (workspace / "null").is_symlink()
    assert (
        call(context, "list_files") == "null (symlink, not followed)\nzero (symlink, not followed)"
    )


def _finishes(run: threading.Thread) -> bool:
    """Whether a call ends promptly (a FIFO opened for reading would block it forever)."""
    run.start()
    run.join(timeout=10)
    return not run.is_alive()


def test_a_fifo_is_neither_read_nor_replaced(context: ToolContext, workspace: Path) -> None:
    workspace.mkdir(parents=True)
    os.mkfifo(workspace / "pipe")
    messages: list[str] = []
    reader = threading.Thread(
        target=lambda: messages.append(refusal(context, "read_file", path="pipe")), daemon=True
    )
    assert _finishes(reader)
    assert messages == ["'pipe' is a FIFO, not a file"]
    assert "'pipe' is a FIFO; write_file only creates or replaces files" in refusal(
        context, "write_file", path="pipe", content="x"
    )
    assert stat.S_ISFIFO((workspace / "pipe").lstat().st_mode)
    assert call(context, "list_files") == "pipe (FIFO)"
    assert "no match" in call(context, "search_files", pattern="x")


def test_a_unix_socket_is_neither_read_nor_replaced() -> None:
    # A short path of its own: a socket path must fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="yoi-ws-") as short:
        workspace = Path(short) / "ws"
        workspace.mkdir()
        context = context_for(workspace)
        with socket.socket(socket.AF_UNIX) as listening:
            listening.bind(str(workspace / "sock"))
            assert refusal(context, "read_file", path="sock") == "'sock' is a socket, not a file"
            assert "'sock' is a socket" in refusal(context, "write_file", path="sock", content="")
            assert stat.S_ISSOCK((workspace / "sock").lstat().st_mode)
            assert call(context, "list_files") == "sock (socket)"


def test_wrong_kinds_and_missing_paths_say_what_they_are(
    context: ToolContext, workspace: Path
) -> None:
    _make_tree(workspace)
    assert refusal(context, "read_file", path="a") == "'a' is a directory, not a file"
    assert refusal(context, "read_file", path="f.txt/x") == "'f.txt' is a file, not a directory"
    assert refusal(context, "list_files", path="f.txt") == "'f.txt' is a file, not a directory"
    assert refusal(context, "read_file", path="a/nope/x") == "'a/nope' does not exist"
    assert refusal(context, "list_files", path="nope") == "'nope' does not exist"
    assert refusal(context, "write_file", path="a", content="x") == (
        "'a' is a directory; write_file only creates or replaces files"
    )
    assert "workspace itself" in refusal(context, "read_file", path=".")
    assert "workspace itself" in refusal(context, "write_file", path="./", content="x")


def test_the_workspace_is_created_on_first_use_with_mode_0700(
    context: ToolContext, workspace: Path
) -> None:
    assert not workspace.parent.exists()
    assert call(context, "list_files") == "'.' is empty"
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
    assert workspace.is_dir() and not workspace.is_symlink()


@pytest.mark.parametrize("tool", sorted(OTHER_ARGUMENTS))
def test_a_workspace_that_is_a_symlink_is_refused(
    tool: str, context: ToolContext, workspace: Path, outside: Path
) -> None:
    workspace.parent.mkdir(parents=True)
    workspace.symlink_to(outside)
    before = snapshot(outside)
    message = refusal(context, tool, path="f.txt", **OTHER_ARGUMENTS[tool])
    assert message == "the workspace directory is a symlink or not a directory; refusing to use it"
    assert snapshot(outside) == before


@pytest.mark.parametrize("tool", sorted(OTHER_ARGUMENTS))
def test_without_a_workspace_every_tool_refuses(tool: str) -> None:
    message = refusal(context_for(None), tool, path="f.txt", **OTHER_ARGUMENTS[tool])
    assert message == "this Runtime gives Workers no workspace directory; file tools cannot run"
