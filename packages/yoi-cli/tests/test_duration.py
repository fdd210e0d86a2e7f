"""The ``--older-than`` duration grammar, case by case."""

from __future__ import annotations

import pytest
from yoi_cli.shared.duration import (
    MAX_SECONDS,
    DurationError,
    format_duration,
    parse_duration,
)

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


@pytest.mark.parametrize("value", ["30", "d", "-5d", "", "+5d", " 5d", "1h30", "h30m"])
def test_missing_digits_or_unit(value: str) -> None:
    with pytest.raises(DurationError) as error:
        parse_duration(value)
    assert str(error.value) == (f"duration `{value}` must use an explicit unit: s, m, h, d, or w")


@pytest.mark.parametrize(
    ("value", "unit"),
    [("7D", "D"), ("1.5h", "."), ("5 d", " d"), ("3S", "S"), ("2y", "y"), ("1h30M", "M")],
)
def test_unknown_unit(value: str, unit: str) -> None:
    with pytest.raises(DurationError) as error:
        parse_duration(value)
    assert str(error.value) == f"unknown duration unit `{unit}` in `{value}`"


@pytest.mark.parametrize("value", ["0s", "0d", "000w", "0h0m"])
def test_zero_is_rejected(value: str) -> None:
    with pytest.raises(DurationError, match=r"^duration must be greater than zero$"):
        parse_duration(value)


@pytest.mark.parametrize("value", [f"{2**64}d", f"1h{2**64}s"])
def test_amount_overflow(value: str) -> None:
    with pytest.raises(DurationError) as error:
        parse_duration(value)
    assert str(error.value) == f"invalid duration amount `{value}`"


def test_large_amounts_saturate_at_the_ceiling() -> None:
    assert MAX_SECONDS == 2**63 - 1
    assert parse_duration(f"{2**64 - 1}w") == MAX_SECONDS
    assert parse_duration(f"{2**63 - 1}s") == MAX_SECONDS
    assert parse_duration(f"{2**63 - 2}s1s") == MAX_SECONDS
    assert parse_duration(f"{2**63 - 2}s2s") == MAX_SECONDS
    assert parse_duration(f"{2**64 - 1}w{2**64 - 1}w") == MAX_SECONDS
    assert parse_duration(f"{2**63 - 2}s") == MAX_SECONDS - 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1h30m", 5400), ("1hour30minutes", 5400), ("2w3d", 17 * 86400), ("90s30m", 1890)],
)
def test_compound_durations_add_up(value: str, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (600, "10m"),
        (5400, "1h30m"),
        (2592000, "30d"),
        (1209600, "2w"),
        (86400 * 30 + 1, "30d1s"),
        (59, "59s"),
    ],
)
def test_durations_written_for_people_parse_back(seconds: int, written: str) -> None:
    assert format_duration(seconds) == written
    assert parse_duration(written) == seconds
