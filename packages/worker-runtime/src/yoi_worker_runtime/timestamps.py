"""Timestamps: RFC 3339 UTC strings with millisecond precision, e.g. 2025-01-31T12:00:00.123Z."""

from __future__ import annotations

import time

#: JSON Schema pattern every timestamp the Runtime writes matches.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def utc_now() -> str:
    """The current time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (sorts as text in time order)."""
    nanos = time.time_ns()
    seconds, rest = divmod(nanos, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}Z"
