"""The duration grammar of ``--older-than`` and ``--grace``: ``<digits><unit>`` parts, no spaces,
case-sensitive, as in ``30d``, ``12h`` or ``1h30m``; and durations written back for people."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 604800),
}
#: How durations are written back, largest unit first (weeks only for whole weeks).
_WRITTEN_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_PART = re.compile(r"([0-9]+)([^0-9]+)", re.ASCII | re.DOTALL)
_SHAPE = re.compile(r"(?:[0-9]+[^0-9]+)+", re.ASCII | re.DOTALL)
#: Durations saturate here (far beyond any file's age) instead of overflowing.
MAX_SECONDS = 2**63 - 1
_MAX_AMOUNT = 2**64 - 1


class DurationError(ValueError):
    pass


def parse_duration(value: str) -> int:
    """Seconds in ``value`` (``30d``, ``12h``, ``2weeks``, ``1h30m``); a clear error otherwise."""
    if _SHAPE.fullmatch(value) is None:
        raise DurationError(f"duration `{value}` must use an explicit unit: s, m, h, d, or w")
    total = 0
    for digits, unit in _PART.findall(value):
        if unit not in _UNIT_SECONDS:
            raise DurationError(f"unknown duration unit `{unit}` in `{value}`")
        amount = int(digits)
        if amount > _MAX_AMOUNT:
            raise DurationError(f"invalid duration amount `{value}`")
        total += amount * _UNIT_SECONDS[unit]
    if total == 0:
        raise DurationError("duration must be greater than zero")
    return min(total, MAX_SECONDS)


def format_duration(seconds: int) -> str:
    """``seconds`` in the grammar's short units, largest first: ``10m``, ``1h30m``, ``30d``."""
    if seconds and seconds % 604800 == 0:
        return f"{seconds // 604800}w"
    parts = []
    for unit, size in _WRITTEN_UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
