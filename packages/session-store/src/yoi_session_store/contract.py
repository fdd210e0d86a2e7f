"""The contract every session store backend fulfils.

A session groups the segments of one conversation; a segment is one append-only log of entries
whose first entry is a ``segment_start``. Backends are opened by URL through
:func:`yoi_session_store.plugins.open_session_store`; the conformance kit in
:mod:`yoi_session_store.testing` checks a backend against everything documented here.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from yoi_session_store.errors import SessionStoreError
from yoi_session_store.ids import SegmentId, SessionId
from yoi_session_store.model import Entry


@attrs.frozen
class SessionInfo:
    """One session as listed: last activity is the newest mtime of the session or its files."""

    session_id: SessionId
    #: Milliseconds since the epoch.
    last_activity_ms: int
    #: Bytes stored for the session (segments and traces).
    size_bytes: int
    segment_count: int
    #: Why the session cannot be read (e.g. ``cannot be read (Permission denied)``), or None.
    #: Such a session is listed with the last activity the store can tell and 0 bytes and
    #: segments, which are then unknown: a caller must not judge or delete what it cannot read.
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.frozen
class SegmentInfo:
    segment_id: SegmentId
    size_bytes: int
    #: Milliseconds since the epoch of the last write.
    modified_at_ms: int


class SessionStore(abc.ABC):
    """Append-only session logs. Every method is safe to call from several threads.

    Rules every backend enforces:

    - The first entry of a segment is a ``segment_start`` and no other entry is; a segment is
      created with its ``segment_start`` (by :meth:`create_segment`, or :meth:`append` of a
      ``segment_start`` to a segment that does not exist yet) and never overwritten.
    - A segment id names at most one segment in the whole store.
    - An entry is acknowledged when :meth:`append` returns; an acknowledged entry is never lost
      by the backend's documented durability policy and never interleaved with another.
    """

    @abc.abstractmethod
    def append(self, session: SessionId, segment: SegmentId, entry: Entry) -> int:
        """Append one entry and return the segment's entry count after it.

        Appending a ``segment_start`` creates the segment (as :meth:`create_segment` with one
        entry); any other entry needs the segment to exist (:class:`SegmentNotFoundError`).
        """

    @abc.abstractmethod
    def append_if_count(
        self, session: SessionId, segment: SegmentId, entry: Entry, expected_count: int
    ) -> bool:
        """Append only if the segment holds exactly ``expected_count`` entries.

        The check and the write happen under the segment's lock, so no other writer can get
        between them. Returns False (and writes nothing) when the count differs.
        """

    def append_many_if_count(
        self,
        session: SessionId,
        segment: SegmentId,
        entries: Sequence[Entry],
        expected_count: int,
    ) -> bool:
        """Append ``entries`` together, in order, only if the segment holds exactly
        ``expected_count`` entries; returns False (and writes nothing) when it does not.

        All or none: if the call fails, none of ``entries`` remains. Under the ``always``
        durability policy the built-in backends write them with one write and make them durable
        with one sync, which is what lets concurrent writers share a sync (group commit). This
        default appends them one at a time and, when that fails part way, truncates the
        segment back; a backend overrides it to do better.
        """
        if not entries:
            return self.read_entry_count(session, segment) == expected_count
        if not self.append_if_count(session, segment, entries[0], expected_count):
            return False
        try:
            for offset, entry in enumerate(entries[1:], start=1):
                if not self.append_if_count(session, segment, entry, expected_count + offset):
                    raise SessionStoreError(f"segment {segment} changed during a batch append")
        except BaseException:
            self.truncate(session, segment, expected_count)
            raise
        return True

    @abc.abstractmethod
    def create_segment(
        self, session: SessionId, segment: SegmentId, entries: Sequence[Entry]
    ) -> None:
        """Create a segment holding ``entries`` (first a ``segment_start`` of ``session``).

        All entries appear at once or not at all. Raises :class:`SegmentExistsError` if the
        segment id is taken, :class:`InvalidEntryError` if the entries break the rules above.
        """

    @abc.abstractmethod
    def read(
        self, session: SessionId, segment: SegmentId, start: int = 0, limit: int | None = None
    ) -> list[Entry]:
        """Entries ``start`` (0-based) onwards, at most ``limit`` of them.

        Raises :class:`SegmentNotFoundError` or :class:`CorruptSegmentError`, and
        :class:`ValueError` for a negative ``start`` or ``limit``.
        """

    def read_all(self, session: SessionId, segment: SegmentId) -> list[Entry]:
        """Every entry of a segment, in order."""
        return self.read(session, segment)

    @abc.abstractmethod
    def read_entry_count(self, session: SessionId, segment: SegmentId) -> int:
        """Number of committed entries (raises :class:`SegmentNotFoundError`)."""

    @abc.abstractmethod
    def exists(self, session: SessionId, segment: SegmentId) -> bool: ...

    @abc.abstractmethod
    def truncate(self, session: SessionId, segment: SegmentId, keep: int) -> None:
        """Keep the first ``keep`` entries (1 <= keep <= count), atomically.

        Kept entries stay byte for byte as they were, unknown fields included. Raises
        :class:`TruncateRangeError` when ``keep`` is out of range.
        """

    @abc.abstractmethod
    def list_sessions(self) -> list[SessionInfo]:
        """Every session, most recent activity first (ties: newest id first).

        A session the store cannot read (an ``fs`` directory of another user) is listed with
        ``error`` set, never left out and never the end of the whole listing.
        """

    @abc.abstractmethod
    def list_segments(self, session: SessionId) -> list[SegmentInfo]:
        """The segments of a session, newest id (= creation order) first; [] if none."""

    @abc.abstractmethod
    def lookup_session_of(self, segment: SegmentId) -> SessionId | None:
        """The session holding a segment, or None, without scanning every session."""

    @abc.abstractmethod
    def append_trace(
        self, session: SessionId, segment: SegmentId, record: Mapping[str, Any]
    ) -> None:
        """Append a debug record to the segment's trace (written, never read back).

        The segment must exist. Traces are best effort: they are never fsynced.
        """

    @abc.abstractmethod
    def session_modified_at(self, session: SessionId) -> int | None:
        """Newest modification time (ms) of the session or any of its files; None if absent."""

    @abc.abstractmethod
    def delete_session(self, session: SessionId) -> bool:
        """Delete a session and all its segments; True if something was removed.

        A writer appending concurrently either completes before the delete or fails with
        :class:`SegmentNotFoundError`; it never recreates part of the session.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release open files and locks. The store is unusable afterwards."""

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
