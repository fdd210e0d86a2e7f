"""Typed errors of the session store. Every error a caller may handle has its own class."""

from __future__ import annotations


class SessionStoreError(Exception):
    """Base class of every error raised by a session store or its helpers."""


class InvalidIdError(SessionStoreError, ValueError):
    """A session or segment id is not a canonical lowercase UUID."""


class InvalidStoreUrlError(SessionStoreError, ValueError):
    """A store URL (or a backend option in it) is malformed."""


class InvalidEntryError(SessionStoreError, ValueError):
    """An entry cannot be written where it was asked to go (e.g. a second ``segment_start``)."""


class SegmentNotFoundError(SessionStoreError, LookupError):
    """The segment does not exist."""

    def __init__(self, session: str, segment: str) -> None:
        super().__init__(f"segment {segment} of session {session} does not exist")
        self.session = session
        self.segment = segment


class SegmentExistsError(SessionStoreError):
    """Creating a segment that already exists (segments are never overwritten)."""

    def __init__(self, session: str, segment: str) -> None:
        super().__init__(f"segment {segment} already exists (session {session})")
        self.session = session
        self.segment = segment


class TruncateRangeError(SessionStoreError, ValueError):
    """``truncate`` was asked to keep fewer than one or more entries than the segment has."""


class UnknownTurnError(SessionStoreError, LookupError):
    """``fork_at`` named a turn the segment does not contain."""


class UnsafePathError(SessionStoreError):
    """A path inside the store is a symlink or not the kind of file the store writes."""


class EntryDecodeError(SessionStoreError, ValueError):
    """One line is not a valid entry (bad JSON, bad UTF-8, wrong shape)."""


class CorruptSegmentError(SessionStoreError):
    """A committed line of a segment cannot be decoded.

    ``path`` names the segment (a file path, or ``memory://...`` for in-memory stores),
    ``line`` is 1-based and ``offset`` is the byte offset of the line's first byte.
    """

    def __init__(self, path: str, line: int, offset: int, reason: str) -> None:
        super().__init__(f"{path}: line {line} (byte offset {offset}): {reason}")
        self.path = path
        self.line = line
        self.offset = offset
        self.reason = reason


class UnsupportedSchemaVersionError(CorruptSegmentError):
    """The segment was written with a newer schema version than this library reads."""


class TornTailWarning(UserWarning):
    """A segment ends in a partial line (an append that never completed); it was ignored."""
