"""The ``--older-than`` duration grammar: ``<digits><unit>``, no spaces, case-sensitive."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 604800),
}
_SHAPE = re.compile(r"([0-9]+)([^0-9].*)", re.ASCII | re.DOTALL)
#: Durations saturate here (far beyond any file's age) instead of overflowing.
MAX_SECONDS = 2**63 - 1
_MAX_AMOUNT = 2**64 - 1


class DurationError(ValueError):
    pass


def parse_duration(value: str) -> int:
    """Seconds in ``value`` (``30d``, ``12h``, ``2weeks``); a clear error for anything else."""
    match = _SHAPE.fullmatch(value)
    if match is None:
        raise DurationError(f"duration `{value}` must use an explicit unit: s, m, h, d, or w")
    digits, unit = match.groups()
    if unit not in _UNIT_SECONDS:
        raise DurationError(f"unknown duration unit `{unit}` in `{value}`")
    amount = int(digits)
    if amount > _MAX_AMOUNT:
        raise DurationError(f"invalid duration amount `{value}`")
    if amount == 0:
        raise DurationError("duration must be greater than zero")
    return min(amount * _UNIT_SECONDS[unit], MAX_SECONDS)
