"""How the commands write values in text: names escaped when not plain, times in UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def printable(text: str) -> str:
    """``text`` as is when it is plain printable ASCII, else escaped like a Python literal."""
    if text.isascii() and text.isprintable() and " " not in text:
        return text
    return repr(text)


def format_time(value: datetime | None) -> str:
    if value is None:
        return "<unknown>"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart."""
    table = [header, *rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
