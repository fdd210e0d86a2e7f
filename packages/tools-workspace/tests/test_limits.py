"""Reads and writes are bounded (1 MiB each by default), and the bounds are configurable."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_calls import call, call_using, refusal, refusal_using, snapshot, tools_with
from yoi_tools_workspace import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, Limits
from yoi_worker_runtime.tools import ToolContext

MIB = 1024 * 1024


def test_the_default_limits_are_one_mib_each() -> None:
    assert DEFAULT_MAX_BYTES == MIB
    assert Limits() == Limits(max_read_bytes=MIB, max_write_bytes=MIB)


def test_a_read_over_the_limit_is_refused(context: ToolContext, workspace: Path) -> None:
    workspace.mkdir(parents=True)
    (workspace / "exact.txt").write_bytes(b"x" * MIB)
    (workspace / "over.txt").write_bytes(b"x" * (MIB + 1))
    assert len(call(context, "read_file", path="exact.txt")) == MIB
    assert refusal(context, "read_file", path="over.txt") == (
        f"the text to read is over the read limit of {MIB} bytes; "
        "read fewer lines with offset and limit"
    )


def test_a_large_file_can_be_read_a_window_at_a_time(context: ToolContext, workspace: Path) -> None:
    workspace.mkdir(parents=True)
    line = "y" * 99 + "\n"
    (workspace / "big.log").write_text(line * 30_000)  # 3 MB
    assert "over the read limit" in refusal(context, "read_file", path="big.log")
    assert call(context, "read_file", path="big.log", offset=20_000, limit=10_000) == line * 10_000
    assert call(context, "read_file", path="big.log", offset=29_999) == line


def test_a_write_over_the_limit_is_refused_and_writes_nothing(
    context: ToolContext, workspace: Path
) -> None:
    call(context, "write_file", path="f.txt", content="old")
    before = snapshot(workspace)
    assert call(context, "write_file", path="f.txt", content="é" * (MIB // 2)) == (
        f"replaced 'f.txt' ({MIB} bytes)"
    )
    call(context, "write_file", path="f.txt", content="old")
    assert refusal(context, "write_file", path="f.txt", content="é" * (MIB // 2) + "x") == (
        f"the content is {MIB + 1} bytes, over the write limit of {MIB} bytes; nothing was written"
    )
    assert snapshot(workspace) == before


def test_search_skips_files_over_the_read_limit(context: ToolContext, workspace: Path) -> None:
    tools = tools_with(Limits(max_read_bytes=10))
    workspace.mkdir(parents=True)
    (workspace / "small.txt").write_text("needle\n")
    (workspace / "large.txt").write_text("needle\n" * 2)
    assert call_using(tools, context, "search_files", pattern="needle") == (
        "small.txt:1: needle\n"
        "(1 match(es) in 1 file(s); skipped 1 file(s) over the read limit of 10 bytes)"
    )


def test_limits_given_to_the_factory_apply_to_each_tool(
    context: ToolContext, workspace: Path
) -> None:
    tools = tools_with(Limits(max_read_bytes=4, max_write_bytes=3))
    assert "over the write limit of 3 bytes" in refusal_using(
        tools, context, "write_file", path="f", content="1234"
    )
    call_using(tools, context, "write_file", path="f", content="123")
    assert call_using(tools, context, "read_file", path="f") == "123"
    (workspace / "f").write_text("12345")
    assert "over the read limit of 4 bytes" in refusal_using(tools, context, "read_file", path="f")
    assert "At most 4 bytes" in tools["read_file"].description


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "1MiB", ""])
def test_a_bad_limit_in_the_environment_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ValueError, match=f"^{MAX_BYTES_ENV} must be a positive number of bytes"):
        Limits.from_environment({MAX_BYTES_ENV: value})


def test_the_environment_sets_both_limits() -> None:
    assert Limits.from_environment({MAX_BYTES_ENV: "2048"}) == Limits(
        max_read_bytes=2048, max_write_bytes=2048
    )
    assert Limits.from_environment({}) == Limits()
    with pytest.raises(ValueError, match="max_read_bytes"):
        Limits(max_read_bytes=0)
