"""The ``memory`` backend: session logs held in this process.

``memory:`` opens a fresh, private store; ``memory://NAME`` opens the store named NAME, shared by
every open of the same name in this process (a Runtime and a test can look at the same data).
Entries are kept as their encoded JSON lines, so this backend enforces and reports exactly what
the ``fs`` backend does (sizes included) and serves as its reference in tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import orjson

from yoi_session_store.backends._common import (
    check_ids,
    decode_lines,
    encode_appended,
    encode_new_segment,
)
from yoi_session_store.contract import SegmentInfo, SessionInfo, SessionStore
from yoi_session_store.errors import (
    InvalidStoreUrlError,
    SegmentExistsError,
    SegmentNotFoundError,
    SessionStoreError,
    TruncateRangeError,
)
from yoi_session_store.ids import SegmentId, SessionId, parse_segment_id, parse_session_id
from yoi_session_store.model import Entry, SegmentStart


@attrs.define
class _Segment:
    lines: list[bytes]
    size: int
    modified_ns: int
    trace: list[bytes] = attrs.field(factory=list)
    trace_size: int = 0


@attrs.define
class _Session:
    modified_ns: int
    segments: dict[SegmentId, _Segment] = attrs.field(factory=dict)


@attrs.define
class MemoryData:
    """The data of one in-memory store; several :class:`MemorySessionStore` may share it."""

    name: str | None
    lock: threading.RLock = attrs.field(factory=threading.RLock)
    sessions: dict[SessionId, _Session] = attrs.field(factory=dict)
    segment_owner: dict[SegmentId, SessionId] = attrs.field(factory=dict)


_named: dict[str, MemoryData] = {}
_named_lock = threading.Lock()


class MemorySessionStore(SessionStore):
    def __init__(self, data: MemoryData | None = None) -> None:
        self._data = data if data is not None else MemoryData(None)
        self._closed = False

    @property
    def name(self) -> str | None:
        return self._data.name

    def _label(self, session: SessionId, segment: SegmentId) -> str:
        return f"memory://{self._data.name or ''}/{session}/{segment}.jsonl"

    def _check_open(self) -> None:
        if self._closed:
            raise SessionStoreError("the session store is closed")

    def _segment(self, session: SessionId, segment: SegmentId) -> _Segment:
        check_ids(session, segment)
        self._check_open()
        holder = self._data.sessions.get(session)
        found = holder.segments.get(segment) if holder else None
        if found is None:
            raise SegmentNotFoundError(session, segment)
        return found

    def append(self, session: SessionId, segment: SegmentId, entry: Entry) -> int:
        if isinstance(entry, SegmentStart):
            self.create_segment(session, segment, [entry])
            return 1
        line = encode_appended(entry)
        with self._data.lock:
            target = self._segment(session, segment)
            self._write(session, target, line)
            return len(target.lines)

    def append_if_count(
        self, session: SessionId, segment: SegmentId, entry: Entry, expected_count: int
    ) -> bool:
        line = encode_appended(entry)
        with self._data.lock:
            target = self._segment(session, segment)
            if len(target.lines) != expected_count:
                return False
            self._write(session, target, line)
            return True

    def append_many_if_count(
        self,
        session: SessionId,
        segment: SegmentId,
        entries: Sequence[Entry],
        expected_count: int,
    ) -> bool:
        lines = [encode_appended(entry) for entry in entries]
        with self._data.lock:
            target = self._segment(session, segment)
            if len(target.lines) != expected_count:
                return False
            for line in lines:
                self._write(session, target, line)
            return True

    def _write(self, session: SessionId, target: _Segment, line: bytes) -> None:
        target.lines.append(line)
        target.size += len(line) + 1
        target.modified_ns = self._data.sessions[session].modified_ns = time.time_ns()

    def create_segment(
        self, session: SessionId, segment: SegmentId, entries: Sequence[Entry]
    ) -> None:
        check_ids(session, segment)
        lines = encode_new_segment(session, entries)
        with self._data.lock:
            self._check_open()
            if segment in self._data.segment_owner:
                raise SegmentExistsError(self._data.segment_owner[segment], segment)
            now = time.time_ns()
            holder = self._data.sessions.setdefault(session, _Session(now))
            holder.modified_ns = now
            holder.segments[segment] = _Segment(lines, sum(len(x) + 1 for x in lines), now)
            self._data.segment_owner[segment] = session

    def read(
        self, session: SessionId, segment: SegmentId, start: int = 0, limit: int | None = None
    ) -> list[Entry]:
        with self._data.lock:
            lines = list(self._segment(session, segment).lines)
        return decode_lines(self._label(session, segment), lines, start, limit)

    def read_entry_count(self, session: SessionId, segment: SegmentId) -> int:
        with self._data.lock:
            return len(self._segment(session, segment).lines)

    def exists(self, session: SessionId, segment: SegmentId) -> bool:
        check_ids(session, segment)
        with self._data.lock:
            self._check_open()
            holder = self._data.sessions.get(session)
            return holder is not None and segment in holder.segments

    def truncate(self, session: SessionId, segment: SegmentId, keep: int) -> None:
        with self._data.lock:
            target = self._segment(session, segment)
            if not 1 <= keep <= len(target.lines):
                raise TruncateRangeError(
                    f"cannot keep {keep} entries of a segment holding {len(target.lines)}"
                )
            if keep == len(target.lines):
                return
            del target.lines[keep:]
            target.size = sum(len(x) + 1 for x in target.lines)
            target.modified_ns = self._data.sessions[session].modified_ns = time.time_ns()

    def list_sessions(self) -> list[SessionInfo]:
        with self._data.lock:
            self._check_open()
            infos = [
                SessionInfo(
                    session_id=session,
                    last_activity_ms=holder.modified_ns // 1_000_000,
                    size_bytes=sum(s.size + s.trace_size for s in holder.segments.values()),
                    segment_count=len(holder.segments),
                )
                for session, holder in self._data.sessions.items()
            ]
        infos.sort(key=lambda info: (info.last_activity_ms, info.session_id), reverse=True)
        return infos

    def list_segments(self, session: SessionId) -> list[SegmentInfo]:
        parse_session_id(session)
        with self._data.lock:
            self._check_open()
            holder = self._data.sessions.get(session)
            if holder is None:
                return []
            infos = [
                SegmentInfo(segment, s.size + s.trace_size, s.modified_ns // 1_000_000)
                for segment, s in holder.segments.items()
            ]
        infos.sort(key=lambda info: info.segment_id, reverse=True)
        return infos

    def lookup_session_of(self, segment: SegmentId) -> SessionId | None:
        parse_segment_id(segment)
        with self._data.lock:
            self._check_open()
            return self._data.segment_owner.get(segment)

    def append_trace(
        self, session: SessionId, segment: SegmentId, record: Mapping[str, Any]
    ) -> None:
        line = orjson.dumps(record)
        with self._data.lock:
            target = self._segment(session, segment)
            target.trace.append(line)
            target.trace_size += len(line) + 1

    def session_modified_at(self, session: SessionId) -> int | None:
        parse_session_id(session)
        with self._data.lock:
            self._check_open()
            holder = self._data.sessions.get(session)
            return None if holder is None else holder.modified_ns // 1_000_000

    def delete_session(self, session: SessionId) -> bool:
        parse_session_id(session)
        with self._data.lock:
            self._check_open()
            holder = self._data.sessions.pop(session, None)
            if holder is None:
                return False
            for segment in holder.segments:
                self._data.segment_owner.pop(segment, None)
            return True

    def close(self) -> None:
        self._closed = True


def open_memory_session_store(url: str) -> MemorySessionStore:
    """Open ``memory:`` (a fresh store) or ``memory://NAME`` (shared by name in this process)."""
    parts = urlsplit(url)
    if parts.scheme != "memory" or parts.path or parts.query or parts.fragment:
        raise InvalidStoreUrlError(
            f"invalid memory store URL {url!r}: expected memory: or memory://NAME"
        )
    if url == "memory:":
        return MemorySessionStore()
    name = parts.netloc
    if not url.startswith("memory://") or not name:
        raise InvalidStoreUrlError(
            f"invalid memory store URL {url!r}: expected memory: or memory://NAME"
        )
    with _named_lock:
        data = _named.get(name)
        if data is None:
            data = _named[name] = MemoryData(name)
    return MemorySessionStore(data)
