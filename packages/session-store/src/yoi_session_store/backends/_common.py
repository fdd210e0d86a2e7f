"""Rules, encoding and decoding shared by every backend, so they behave identically."""

from __future__ import annotations

import gc
from collections.abc import Sequence

from yoi_session_store.errors import (
    CorruptSegmentError,
    EntryDecodeError,
    InvalidEntryError,
    UnsupportedSchemaVersionError,
)
from yoi_session_store.ids import SegmentId, SessionId, parse_segment_id, parse_session_id
from yoi_session_store.model import (
    SCHEMA_VERSION,
    Entry,
    SegmentStart,
    _decode_lines_fast,
    decode_entry,
    encode_entry,
    encode_line,
)


def check_ids(session: SessionId, segment: SegmentId) -> None:
    parse_session_id(session)
    parse_segment_id(segment)


def encode_new_segment(
    session: SessionId, entries: Sequence[Entry], *, newline: bool = False
) -> list[bytes]:
    """The lines of a new segment of ``session``, checking the ``segment_start`` rules.

    Each line is one entry's JSON, ending in ``\\n`` only with ``newline`` (as a file holds it).
    """
    if not entries:
        raise InvalidEntryError("a new segment needs at least its segment_start entry")
    first = entries[0]
    if not isinstance(first, SegmentStart):
        raise InvalidEntryError(
            f"the first entry of a segment must be segment_start, not {_kind(first)}"
        )
    if first.session_id != session:
        raise InvalidEntryError(
            f"segment_start names session {first.session_id}, but the segment is in {session}"
        )
    head = encode_line(first) if newline else encode_entry(first)
    return [head, *(encode_appended(entry, newline=newline) for entry in entries[1:])]


def encode_appended(entry: Entry, *, newline: bool = False) -> bytes:
    """The line of an entry that goes after a segment's start (with ``\\n`` if ``newline``)."""
    if type(entry) is SegmentStart:
        raise InvalidEntryError("segment_start may only be the first entry of a segment")
    return encode_line(entry) if newline else encode_entry(entry)


def _kind(entry: Entry) -> str:
    return str(getattr(entry, "KIND", None) or getattr(entry, "kind", type(entry).__name__))


def decode_lines(
    label: str, lines: Sequence[bytes], start: int = 0, limit: int | None = None
) -> list[Entry]:
    """Decode committed lines ``start`` onwards (at most ``limit``), checking the first line.

    ``label`` names the segment in errors; offsets are recomputed only on the error path.
    """
    if start < 0 or (limit is not None and limit < 0):
        raise ValueError("start and limit must not be negative")
    if not lines:
        raise CorruptSegmentError(label, 1, 0, "segment has no segment_start")
    check_segment_head(label, lines[0])
    selected = lines[start:] if limit is None else lines[start : start + limit]
    # Decoding builds several objects per line and none of them can form a cycle; pausing
    # the cyclic GC for a large batch spares it repeated full scans of the growing result.
    # Equivalent mutants `> -> >=`, `1000 -> 1001`: the threshold decides speed, not results.
    pause_gc = len(selected) > 1000 and gc.isenabled()
    # Equivalent mutant `statement removed`: without the pause decoding is slower, not different.
    if pause_gc:
        # Equivalent mutant `statement removed`: the same.
        gc.disable()
    try:
        entries = _decode_lines_fast(selected)
    except Exception as exc:  # find the bad line, and why, the careful way
        failure = exc
    else:
        # Equivalent mutants `statement removed`, `condition negated`: promoting objects, or
        # not, changes how often the collector scans them, nothing else.
        if pause_gc:
            # Equivalent mutant `statement removed`: the same.
            _promote_young_objects()
        return entries
    finally:
        if pause_gc:
            gc.enable()
    for index, line in enumerate(selected, start):
        try:
            decode_entry(line)
        except EntryDecodeError as exc:
            raise corrupt_at(label, lines, index, exc.args[0]) from exc
    raise failure


def _promote_young_objects() -> None:
    """Hand the objects just decoded straight to the collector's oldest generation.

    They cannot be part of a cycle, so the two young-generation scans they would otherwise
    get on their way there (a third of a large replay's time) find nothing. ``freeze`` then
    ``unfreeze`` moves every tracked object to the oldest generation without visiting any;
    they are still scanned by full collections, as they would have been. Skipped when the
    application froze objects itself: unfreezing would undo that.
    """
    # Equivalent mutants `statement removed`, `0 -> 1`: not promoting only costs time, and a
    # freeze takes every tracked object, so the count is never exactly 1.
    if gc.get_freeze_count() == 0:
        # Equivalent mutant `statement removed`: unfreezing alone moves nothing.
        gc.freeze()
        gc.unfreeze()


def check_segment_head(label: str, line: bytes) -> None:
    """Line 1 of a segment must decode to a ``segment_start`` of a schema this version reads.

    Raises :class:`CorruptSegmentError` or :class:`UnsupportedSchemaVersionError` at line 1.
    """
    try:
        first = decode_entry(line)
    except EntryDecodeError as exc:
        raise CorruptSegmentError(label, 1, 0, exc.args[0]) from exc
    if not isinstance(first, SegmentStart):
        raise CorruptSegmentError(label, 1, 0, "first line is not a segment_start")
    if first.schema_version > SCHEMA_VERSION:
        raise UnsupportedSchemaVersionError(
            label,
            1,
            0,
            f"schema version {first.schema_version} is newer than the supported "
            f"{SCHEMA_VERSION}; upgrade yoi-session-store",
        )


def corrupt_at(label: str, lines: Sequence[bytes], index: int, reason: str) -> CorruptSegmentError:
    offset = sum(len(line) + 1 for line in lines[:index])
    return CorruptSegmentError(label, index + 1, offset, reason)
