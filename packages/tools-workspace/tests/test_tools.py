"""What each tool does inside the workspace: listings, reads, writes, searches, cancellation."""

from __future__ import annotations

import stat
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from workspace_calls import TOOLS, call, context_for, refusal, snapshot
from yoi_tools_workspace.confinement import CHUNK_BYTES, TEMP_PREFIX
from yoi_worker_runtime.tools import ToolContext


def _files(workspace: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


# --- list_files --------------------------------------------------------------------------------


def test_listing_shows_one_directory_sorted_with_kinds_and_sizes(
    context: ToolContext, workspace: Path
) -> None:
    _files(workspace, {"b.txt": "12345", "a/inner.txt": "x", "c/d/deep.txt": ""})
    (workspace / "link").symlink_to("b.txt")
    assert call(context, "list_files") == "a/\nb.txt (5 bytes)\nc/\nlink (symlink, not followed)"
    assert call(context, "list_files", path="c") == "c/d/"
    assert call(context, "list_files", path="./c/d/") == "c/d/deep.txt (0 bytes)"


def test_a_recursive_listing_goes_breadth_first(context: ToolContext, workspace: Path) -> None:
    _files(workspace, {"a/x/deep.txt": "1", "a/top.txt": "22", "b/mid.txt": "333", "z.txt": ""})
    assert call(context, "list_files", recursive=True).splitlines() == [
        "a/",
        "b/",
        "z.txt (0 bytes)",
        "a/top.txt (2 bytes)",
        "a/x/",
        "b/mid.txt (3 bytes)",
        "a/x/deep.txt (1 bytes)",
    ]


def test_a_listing_stops_at_max_entries_and_says_so(context: ToolContext, workspace: Path) -> None:
    _files(workspace, {f"d{i}/f{j}.txt": "" for i in range(3) for j in range(3)})
    lines = call(context, "list_files", recursive=True, max_entries=5).splitlines()
    assert lines == [
        "d0/",
        "d1/",
        "d2/",
        "d0/f0.txt (0 bytes)",
        "d0/f1.txt (0 bytes)",
        "(stopped at 5 entries: list a subdirectory or raise max_entries)",
    ]
    # Exactly as many entries as allowed is a complete listing, without the note.
    assert len(call(context, "list_files", recursive=True, max_entries=12).splitlines()) == 12
    assert "violates minimum 1" in refusal(context, "list_files", max_entries=0)
    assert "violates maximum 10000" in refusal(context, "list_files", max_entries=10_001)


# --- read_file ---------------------------------------------------------------------------------


def test_reading_returns_the_text_or_a_range_of_lines(
    context: ToolContext, workspace: Path
) -> None:
    _files(workspace, {"notes.md": "one\ntwo\nthree\nfour", "empty.txt": "", "é.txt": "café ☕\n"})
    assert call(context, "read_file", path="notes.md") == "one\ntwo\nthree\nfour"
    assert call(context, "read_file", path="notes.md", offset=1, limit=2) == "two\nthree\n"
    assert call(context, "read_file", path="notes.md", offset=3) == "four"
    assert call(context, "read_file", path="notes.md", offset=9) == ""
    assert call(context, "read_file", path="empty.txt") == ""
    assert call(context, "read_file", path="é.txt") == "café ☕\n"


@settings(max_examples=60)  # each example writes and reads real files
@given(
    lines=st.lists(st.integers(min_value=0, max_value=3 * CHUNK_BYTES // 4), max_size=6),
    trailing_newline=st.booleans(),
    offset=st.integers(min_value=0, max_value=7),
    limit=st.none() | st.integers(min_value=1, max_value=7),
)
def test_a_range_of_lines_is_exact_across_chunk_boundaries(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[int],
    trailing_newline: bool,
    offset: int,
    limit: int | None,
) -> None:
    workspace = tmp_path_factory.mktemp("ws")
    text = "\n".join(f"{n}:" + "x" * n for n in lines) + ("\n" if trailing_newline else "")
    (workspace / "f.txt").write_text(text)
    expected = "".join(
        text.splitlines(keepends=True)[offset : None if limit is None else offset + limit]
    )
    arguments = {"offset": offset} | ({} if limit is None else {"limit": limit})
    assert call(context_for(workspace), "read_file", path="f.txt", **arguments) == expected


def test_a_file_that_is_not_utf8_text_is_refused(context: ToolContext, workspace: Path) -> None:
    _files(workspace, {"image.bin": b"\x89PNG\r\n\x1a\n\xff\xfe"})
    assert refusal(context, "read_file", path="image.bin") == "'image.bin' is not UTF-8 text"


# --- write_file --------------------------------------------------------------------------------


def test_writing_creates_directories_then_replaces_keeping_the_mode(
    context: ToolContext, workspace: Path
) -> None:
    assert call(context, "write_file", path="src/pkg/mod.py", content="x = 1\n") == (
        "created 'src/pkg/mod.py' (6 bytes)"
    )
    target = workspace / "src" / "pkg" / "mod.py"
    assert target.read_text() == "x = 1\n"
    target.chmod(0o640)
    assert call(context, "write_file", path="src/pkg/mod.py", content="é") == (
        "replaced 'src/pkg/mod.py' (2 bytes)"
    )
    assert target.read_text() == "é"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["mod.py"]


def test_a_write_that_fails_leaves_everything_as_it_was(
    context: ToolContext, workspace: Path
) -> None:
    _files(workspace, {"keep.txt": "old", "dir/inside.txt": "x"})
    before = snapshot(workspace)
    assert "is a directory" in refusal(context, "write_file", path="dir", content="new")
    assert "is a file, not a directory" in refusal(
        context, "write_file", path="keep.txt/child", content="new"
    )
    assert snapshot(workspace) == before


# --- search_files ------------------------------------------------------------------------------


def test_search_finds_substrings_with_paths_and_line_numbers(
    context: ToolContext, workspace: Path
) -> None:
    _files(
        workspace,
        {
            "src/app.py": "import os\nTODO: tidy\n",
            "src/deep/util.py": "x = 1  # todo later\n",
            "README.md": "a TODO (see src)\n",
            "image.bin": b"TODO\0\x01",
        },
    )
    (workspace / "alias.py").symlink_to("src/app.py")
    assert call(context, "search_files", pattern="TODO") == (
        "README.md:1: a TODO (see src)\n"
        "src/app.py:2: TODO: tidy\n"
        "(2 match(es) in 2 file(s); skipped 1 binary file(s))"
    )
    assert call(context, "search_files", pattern="todo", ignore_case=True, include="*.py") == (
        "src/app.py:2: TODO: tidy\nsrc/deep/util.py:1: x = 1  # todo later\n"
        "(2 match(es) in 2 file(s))"
    )
    assert call(context, "search_files", pattern=r"^x = \d", regex=True, path="src") == (
        "src/deep/util.py:1: x = 1  # todo later\n(1 match(es) in 1 file(s))"
    )
    assert call(context, "search_files", pattern="(see", path="src") == (
        "(no match for '(see' under 'src')"
    )
    assert call(context, "search_files", pattern="(see") == (
        "README.md:1: a TODO (see src)\n(1 match(es) in 1 file(s); skipped 1 binary file(s))"
    )


def test_search_results_are_bounded(context: ToolContext, workspace: Path) -> None:
    _files(workspace, {f"f{i}.txt": "hit\n" * 3 for i in range(4)} | {"long.txt": "hit" * 500})
    lines = call(context, "search_files", pattern="hit", max_results=5).splitlines()
    assert lines[-1] == "(5 match(es) in 2 file(s); stopped at 5 matches: narrow the search)"
    assert lines[:5] == [f"f0.txt:{n}: hit" for n in (1, 2, 3)] + ["f1.txt:1: hit", "f1.txt:2: hit"]
    long_line = call(context, "search_files", pattern="hit", include="long.txt").splitlines()[0]
    assert long_line == "long.txt:1: " + ("hit" * 100) + "..."


def test_an_invalid_regular_expression_is_refused(context: ToolContext) -> None:
    message = refusal(context, "search_files", pattern="(unclosed", regex=True)
    assert message.startswith("'(unclosed' is not a valid regular expression: ")


# --- cancellation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("list_files", {"recursive": True}),
        ("read_file", {"path": "a/f.txt"}),
        ("write_file", {"path": "a/new.txt", "content": "x"}),
        ("write_file", {"path": "new/dir/f.txt", "content": "x"}),
        ("search_files", {"pattern": "x"}),
    ],
)
def test_a_cancelled_call_stops_and_changes_nothing(
    tool: str, arguments: dict[str, object], context: ToolContext, workspace: Path
) -> None:
    _files(workspace, {"a/f.txt": "x"})
    before = snapshot(workspace)
    context.cancelled.set()
    assert refusal(context, tool, **arguments) == "the call was cancelled"
    assert snapshot(workspace) == before
    assert not any(p.name.startswith(TEMP_PREFIX) for p in workspace.rglob("*"))


class _CancelledAfter(threading.Event):
    """An event that reads as set from its ``checks``-th look on: a cancel arriving mid-call."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.looks_left = checks

    def is_set(self) -> bool:
        self.looks_left -= 1
        return self.looks_left < 0 or super().is_set()


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("list_files", {"recursive": True}),
        ("read_file", {"path": "big.txt"}),
        ("write_file", {"path": "a/f.txt", "content": "y" * (3 * CHUNK_BYTES)}),
        ("search_files", {"pattern": "x"}),
    ],
)
def test_a_call_cancelled_midway_stops_between_units_of_work(
    tool: str, arguments: dict[str, object], workspace: Path
) -> None:
    _files(workspace, {"a/f.txt": "x", "big.txt": "x" * (3 * CHUNK_BYTES)})
    before = snapshot(workspace)
    cancelled = _CancelledAfter(checks=3)
    context = ToolContext(
        worker_ref=context_for(workspace).worker_ref, workspace=workspace, cancelled=cancelled
    )
    assert refusal(context, tool, **arguments) == "the call was cancelled"
    assert cancelled.looks_left == -1  # it stopped at the first look that saw the cancel
    assert snapshot(workspace) == before


def test_only_write_file_has_side_effects() -> None:
    assert {name for name, tool in TOOLS.items() if tool.side_effects} == {"write_file"}
