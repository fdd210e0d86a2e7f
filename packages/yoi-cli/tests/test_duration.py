"""The ``--older-than`` duration grammar, case by case."""

from __future__ import annotations

import pytest
from yoi_cli.shared.duration import MAX_SECONDS, DurationError, parse_duration

UNITS = {
    1: ("s", "sec", "secs", "second", "seconds"),
    60: ("m", "min", "mins", "minute", "minutes"),
    3600: ("h", "hr", "hrs", "hour", "hours"),
    86400: ("d", "day", "days"),
    604800: ("w", "week", "weeks"),
}


@pytest.mark.parametrize(("factor", "unit"), [(f, u) for f, us in UNITS.items() for u in us])
def test_every_unit_spelling(factor: int, unit: str) -> None:
    assert parse_duration(f"3{unit}") == 3 * factor
    assert parse_duration(f"1{unit}") == factor


def test_leading_zeros_are_digits() -> None:
    assert parse_duration("007d") == 7 * 86400


@pytest.mark.parametrize("value", ["30", "d", "-5d", "", "+5d", " 5d"])
def test_missing_digits_or_unit(value: str) -> None:
    with pytest.raises(DurationError) as error:
        parse_duration(value)
    assert str(error.value) == (f"duration `{value}` must use an explicit unit: s, m, h, d, or w")


@pytest.mark.parametrize(
    ("value", "unit"),
    [("7D", "D"), ("1h30m", "h30m"), ("1.5h", ".5h"), ("5 d", " d"), ("3S", "S"), ("2y", "y")],
)
def test_unknown_unit(value: str, unit: str) -> None:
    with pytest.raises(DurationError) as error:
        parse_duration(value)
    assert str(error.value) == f"unknown duration unit `{unit}` in `{value}`"


@pytest.mark.parametrize("value", ["0s", "0d", "000w"])
def test_zero_is_rejected(value: str) -> None:
    with pytest.raises(DurationError, match=r"^duration must be greater than zero$"):
        parse_duration(value)


def test_amount_overflow() -> None:
    value = f"{2**64}d"
    with pytest.raises(DurationError) as error:
        parse_duration(value)
    assert str(error.value) == f"invalid duration amount `{value}`"


def test_large_amounts_saturate() -> None:
    assert parse_duration(f"{2**64 - 1}w") == MAX_SECONDS
    assert parse_duration(f"{2**63 - 1}s") == MAX_SECONDS
