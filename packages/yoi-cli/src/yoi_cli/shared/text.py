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


def format_size(size: int) -> str:
    """Bytes for people, in decimal units: ``512 B``, ``1.3 kB``, ``7.0 MB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} PB"
