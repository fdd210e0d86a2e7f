"""Shared pieces of the session-store benchmarks (not a benchmark itself)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from yoi_session_store.model import AssistantItem, Entry, MessageItem, TextContent, encode_entry


def size_arg(default: int) -> int:
    """The workload size: the first command-line argument, else ``default``."""
    return int(sys.argv[1]) if len(sys.argv) > 1 else default


def kib_entry(n: int) -> Entry:
    """An assistant message whose JSON line is about 1 KiB."""
    text = f"{n:08d} " + "lorem ipsum dolor sit amet " * 36
    return AssistantItem(1_700_000_000_000 + n, MessageItem("assistant", (TextContent(text),)))


def line_of(entry: Entry) -> bytes:
    return encode_entry(entry) + b"\n"


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def best_of(runs: int, fn: Callable[[], object]) -> float:
    return min(timed(fn) for _ in range(runs))
