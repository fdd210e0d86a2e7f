"""A session store that forwards to a real one and fails chosen calls like a full disk would.

As root, read-only directories do not make writes fail, so the failure is injected here, at the
session-store contract, while every call that is not told to fail goes to the real store. Where
no real small disk can be mounted, ``full`` makes it stand in for one (see ``small_disk``).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from typing import Any

from yoi_session_store.contract import SegmentInfo, SessionInfo, SessionStore
from yoi_session_store.ids import SegmentId, SessionId
from yoi_session_store.model import Entry


class FailingSessionStore(SessionStore):
    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        #: (method name, session id) pairs that raise ENOSPC while listed.
        self.failing: set[tuple[str, SessionId]] = set()
        #: Pairs whose next call raises EIO (a failed sync), once.
        self.failing_once: set[tuple[str, SessionId]] = set()
        #: While True, every write raises ENOSPC; a segment creation does so after creating
        #: the segment, as a write that reached the disk but not its end would leave it.
        self.full = False

    def _check(self, method: str, session: SessionId) -> None:
        if self.full or (method, session) in self.failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        if (method, session) in self.failing_once:
            self.failing_once.discard((method, session))
            raise OSError(errno.EIO, "Input/output error")

    def append(self, session: SessionId, segment: SegmentId, entry: Entry) -> int:
        self._check("append", session)
        return self.inner.append(session, segment, entry)

    def append_if_count(
        self, session: SessionId, segment: SegmentId, entry: Entry, expected_count: int
    ) -> bool:
        self._check("append_if_count", session)
        return self.inner.append_if_count(session, segment, entry, expected_count)

    def append_many_if_count(
        self,
        session: SessionId,
        segment: SegmentId,
        entries: Sequence[Entry],
        expected_count: int,
    ) -> bool:
        """Fails when appending to ``session`` is told to fail, by either method's name."""
        self._check("append_if_count", session)
        self._check("append_many_if_count", session)
        return self.inner.append_many_if_count(session, segment, entries, expected_count)

    def create_segment(
        self, session: SessionId, segment: SegmentId, entries: Sequence[Entry]
    ) -> None:
        if not self.full:
            self._check("create_segment", session)
        self.inner.create_segment(session, segment, entries)
        self._check("create_segment", session)

    def read(
        self, session: SessionId, segment: SegmentId, start: int = 0, limit: int | None = None
    ) -> list[Entry]:
        return self.inner.read(session, segment, start, limit)

    def read_entry_count(self, session: SessionId, segment: SegmentId) -> int:
        return self.inner.read_entry_count(session, segment)

    def exists(self, session: SessionId, segment: SegmentId) -> bool:
        return self.inner.exists(session, segment)

    def truncate(self, session: SessionId, segment: SegmentId, keep: int) -> None:
        self._check("truncate", session)
        self.inner.truncate(session, segment, keep)

    def list_sessions(self) -> list[SessionInfo]:
        return self.inner.list_sessions()

    def list_segments(self, session: SessionId) -> list[SegmentInfo]:
        return self.inner.list_segments(session)

    def lookup_session_of(self, segment: SegmentId) -> SessionId | None:
        return self.inner.lookup_session_of(segment)

    def append_trace(
        self, session: SessionId, segment: SegmentId, record: Mapping[str, Any]
    ) -> None:
        self.inner.append_trace(session, segment, record)

    def session_modified_at(self, session: SessionId) -> int | None:
        return self.inner.session_modified_at(session)

    def delete_session(self, session: SessionId) -> bool:
        return self.inner.delete_session(session)

    def close(self) -> None:
        self.inner.close()
