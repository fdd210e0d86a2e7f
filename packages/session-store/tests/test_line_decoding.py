"""The line decoder the built-in backends share, called directly: its guards, its error positions,
and its fallback from the fast batch decoder to the careful line-by-line one."""

from __future__ import annotations

import gc
from types import MappingProxyType

import pytest
from yoi_session_store.backends import _common
from yoi_session_store.errors import (
    CorruptSegmentError,
    InvalidEntryError,
    UnsupportedSchemaVersionError,
)
from yoi_session_store.ids import new_session_id
from yoi_session_store.model import Entry, Extension, SegmentStart, UnknownRecord, encode_entry
from yoi_session_store.testing.samples import segment_start

HEAD = encode_entry(segment_start(new_session_id()))
GOOD = [encode_entry(Extension(n, "test", {"n": n})) for n in range(3)]
BAD = b'{"kind": "extension", '


def decoded_notes(entries: list[Entry]) -> list[int]:
    return [entry.ts for entry in entries if isinstance(entry, Extension)]


@pytest.mark.parametrize(("start", "limit"), [(-1, None), (-1, 2), (0, -1), (3, -2)])
def test_a_negative_start_or_limit_is_refused(start: int, limit: int | None) -> None:
    with pytest.raises(ValueError, match=r"^start and limit must not be negative$"):
        _common.decode_lines("seg", [HEAD, *GOOD], start, limit)


def test_start_and_limit_select_a_window_and_zero_selects_nothing() -> None:
    lines = [HEAD, *GOOD]
    everything = _common.decode_lines("seg", lines)
    assert isinstance(everything[0], SegmentStart) and decoded_notes(everything) == [0, 1, 2]
    assert decoded_notes(_common.decode_lines("seg", lines, 2)) == [1, 2]
    assert decoded_notes(_common.decode_lines("seg", lines, 1, 2)) == [0, 1]
    assert _common.decode_lines("seg", lines, 0, 0) == []
    assert _common.decode_lines("seg", lines, 4) == []


def test_a_segment_without_lines_has_no_segment_start() -> None:
    with pytest.raises(CorruptSegmentError) as caught:
        _common.decode_lines("seg-empty", [])
    error = caught.value
    assert (error.path, error.line, error.offset) == ("seg-empty", 1, 0)
    assert error.reason == "segment has no segment_start"


@pytest.mark.parametrize(
    ("head", "error", "reason"),
    [
        (GOOD[0], CorruptSegmentError, "first line is not a segment_start"),
        (BAD, CorruptSegmentError, "invalid JSON"),
        (
            HEAD.replace(b'"schema_version":1', b'"schema_version":99'),
            UnsupportedSchemaVersionError,
            "schema version 99 is newer than the supported 1; upgrade yoi-session-store",
        ),
    ],
)
def test_the_head_is_checked_even_when_the_window_skips_it(
    head: bytes, error: type[CorruptSegmentError], reason: str
) -> None:
    assert head != HEAD
    with pytest.raises(error) as caught:
        _common.decode_lines("seg", [head, GOOD[1]], start=1)
    assert type(caught.value) is error
    assert (caught.value.path, caught.value.line, caught.value.offset) == ("seg", 1, 0)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize("start", [0, 1, 2])
def test_a_bad_line_is_reported_by_its_line_number_and_byte_offset(start: int) -> None:
    lines = [HEAD, GOOD[0], BAD, GOOD[1]]
    with pytest.raises(CorruptSegmentError) as caught:
        _common.decode_lines("seg", lines, start)
    error = caught.value
    assert (error.path, error.line) == ("seg", 3)
    assert error.offset == len(HEAD) + 1 + len(GOOD[0]) + 1
    assert error.reason.startswith("invalid JSON")


def test_a_bad_line_outside_the_window_is_not_read() -> None:
    lines = [HEAD, GOOD[0], BAD]
    assert decoded_notes(_common.decode_lines("seg", lines, 0, 2)) == [0]
    assert decoded_notes(_common.decode_lines("seg", lines, 1, 1)) == [0]


def test_a_failure_no_line_explains_is_raised_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast decoder can fail for reasons outside the data (memory, for one); when every line
    # then decodes on its own, that failure must surface instead of an empty or partial answer.
    def out_of_memory(lines: object) -> list[Entry]:
        raise MemoryError("batch too large")

    monkeypatch.setattr(_common, "_decode_lines_fast", out_of_memory)
    with pytest.raises(MemoryError, match="batch too large"):
        _common.decode_lines("seg", [HEAD, *GOOD])


def test_large_batches_leave_the_applications_collector_as_it_was() -> None:
    # Large batches pause the cyclic collector and then move what they decoded to its oldest
    # generation; an application's own choices (collector off, objects frozen) must survive.
    lines = [HEAD, *(encode_entry(Extension(n, "test", {"n": n})) for n in range(1500))]
    gc.disable()
    try:
        _common.decode_lines("seg", lines)
        assert not gc.isenabled()
    finally:
        gc.enable()
    _common.decode_lines("seg", lines)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        _common.decode_lines("seg", lines)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_large_batches_decode_the_same_with_the_collector_paused() -> None:
    # Above 1000 lines the cyclic collector is paused while decoding; the result is the same.
    many = [encode_entry(Extension(n, "test", {"n": n})) for n in range(1500)]
    assert decoded_notes(_common.decode_lines("seg", [HEAD, *many])) == list(range(1500))
    with pytest.raises(CorruptSegmentError) as caught:
        _common.decode_lines("seg", [HEAD, *many[:1200], BAD, *many[1200:]])
    assert caught.value.line == 1202


def test_a_new_segment_starts_with_its_segment_start_and_encodes_each_line_once() -> None:
    session = new_session_id()
    start, note = segment_start(session), Extension(1, "test", None)
    assert _common.encode_new_segment(session, [start, note]) == [
        encode_entry(start),
        encode_entry(note),
    ]
    assert _common.encode_new_segment(session, [start, note], newline=True) == [
        encode_entry(start) + b"\n",
        encode_entry(note) + b"\n",
    ]
    assert _common.encode_appended(note) == encode_entry(note)
    assert _common.encode_appended(note, newline=True) == encode_entry(note) + b"\n"


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([], "a new segment needs at least its segment_start entry"),
        ([Extension(1, "test", None)], "must be segment_start, not extension"),
        (
            [UnknownRecord("worker_event", MappingProxyType({"ts": 1}))],
            "must be segment_start, not worker_event",
        ),
    ],
)
def test_a_new_segment_without_its_segment_start_is_refused(
    entries: list[Entry], reason: str
) -> None:
    with pytest.raises(InvalidEntryError, match=reason):
        _common.encode_new_segment(new_session_id(), entries)
