"""The line decoder the built-in backends share, called directly: its guards, its error positions,
and its fallback from the fast batch decoder to the careful line-by-line one."""

from __future__ import annotations

import pytest
from yoi_session_store.backends import _common
from yoi_session_store.errors import CorruptSegmentError, UnsupportedSchemaVersionError
from yoi_session_store.ids import new_session_id
from yoi_session_store.model import Entry, Extension, encode_entry
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


def test_the_head_is_checked_even_when_the_window_skips_it() -> None:
    with pytest.raises(CorruptSegmentError, match="first line is not a segment_start") as caught:
        _common.decode_lines("seg", [GOOD[0], GOOD[1]], start=1)
    assert (caught.value.line, caught.value.offset) == (1, 0)
    newer = HEAD.replace(b'"schema_version":1', b'"schema_version":99')
    assert newer != HEAD
    with pytest.raises(UnsupportedSchemaVersionError, match="schema version 99 is newer"):
        _common.decode_lines("seg", [newer, GOOD[0]], start=1)


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


def test_large_batches_decode_the_same_with_the_collector_paused() -> None:
    # Above 1000 lines the cyclic collector is paused while decoding; the result is the same.
    many = [encode_entry(Extension(n, "test", {"n": n})) for n in range(1500)]
    assert decoded_notes(_common.decode_lines("seg", [HEAD, *many])) == list(range(1500))
    with pytest.raises(CorruptSegmentError) as caught:
        _common.decode_lines("seg", [HEAD, *many[:1200], BAD, *many[1200:]])
    assert caught.value.line == 1202
