"""The session store on PostgreSQL: one row per entry, ordered and atomic per segment.

Entries are stored as their exact encoded JSON bytes (``bytea``), one row each, keyed by
``(segment_id, seq)`` with ``seq`` 1-based, so unknown fields and kinds survive byte for byte.
A segment row carries the entry count and sizes. An append is one statement: it updates the
segment row (which row-locks it, so appenders to one segment queue there), takes
``seq = entry_count + 1`` from it and inserts the entry, all in one transaction; the primary
key makes a duplicate ``seq`` impossible whatever happens. ``append_if_count`` adds the count
to the same statement's condition, so the check and the write are one atomic step.

Deleting a session deletes its row; segments, entries and traces go with it by foreign-key
cascade in the same transaction, so there are never orphan rows. An append racing a delete
either commits first or finds no segment row (:class:`SegmentNotFoundError`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from yoi_session_store.backends import (
    check_ids,
    check_segment_head,
    encode_appended,
    encode_new_segment,
)
from yoi_session_store.contract import SegmentInfo, SessionInfo, SessionStore
from yoi_session_store.errors import (
    CorruptSegmentError,
    EntryDecodeError,
    SegmentExistsError,
    SegmentNotFoundError,
    TruncateRangeError,
)
from yoi_session_store.ids import SegmentId, SessionId, parse_segment_id, parse_session_id
from yoi_session_store.model import Entry, SegmentStart, decode_entry

from yoi_store_postgres.config import PostgresConfig, parse_url
from yoi_store_postgres.database import Connection, Database

_MAX_SEQ = 2**31 - 1
_MS = "floor(extract(epoch FROM {}) * 1000)::bigint"

_APPEND = """
WITH segment AS (
    UPDATE yoi_segments
    SET entry_count = entry_count + 1, log_bytes = log_bytes + %(size)s,
        modified_at = clock_timestamp()
    WHERE segment_id = %(segment)s::uuid AND session_id = %(session)s::uuid {condition}
    RETURNING entry_count
)
INSERT INTO yoi_entries (segment_id, seq, line)
SELECT %(segment)s::uuid, entry_count, %(line)s FROM segment
RETURNING seq
"""
_APPEND_ANY = _APPEND.format(condition="")
_APPEND_AT = _APPEND.format(condition="AND entry_count = %(expected)s")
#: A batch: the segment row counts every line at once, then the lines go in numbered from it.
_APPEND_MANY = """
WITH segment AS (
    UPDATE yoi_segments
    SET entry_count = entry_count + %(count)s, log_bytes = log_bytes + %(size)s,
        modified_at = clock_timestamp()
    WHERE segment_id = %(segment)s::uuid AND session_id = %(session)s::uuid
      AND entry_count = %(expected)s
    RETURNING segment_id
)
INSERT INTO yoi_entries (segment_id, seq, line)
SELECT segment_id, %(expected)s + line.position, line.text
FROM segment, unnest(%(lines)s::bytea[]) WITH ORDINALITY AS line(text, position)
RETURNING seq
"""

_READ = """
SELECT seq, line FROM yoi_entries
WHERE segment_id = %(segment)s::uuid AND (seq = 1 OR (seq > %(start)s AND seq <= %(end)s))
  AND EXISTS (SELECT FROM yoi_segments
              WHERE segment_id = %(segment)s::uuid AND session_id = %(session)s::uuid)
ORDER BY seq
"""

_SESSION_ACTIVITY = _MS.format("greatest(s.created_at, max(g.modified_at))")


class PostgresSessionStore(SessionStore):
    """Session logs in one PostgreSQL schema; every method is safe from several threads."""

    def __init__(self, config: PostgresConfig, db: Database) -> None:
        self.url = config.url
        self.config = config
        self.db = db

    def __repr__(self) -> str:
        return f"PostgresSessionStore(url={self.config.display_url!r})"

    def _label(self, session: SessionId, segment: SegmentId) -> str:
        return f"{self.config.display_url}#{session}/{segment}"

    # ---- writing ----

    def append(self, session: SessionId, segment: SegmentId, entry: Entry) -> int:
        check_ids(session, segment)
        if isinstance(entry, SegmentStart):
            self.create_segment(session, segment, [entry])
            return 1
        line = encode_appended(entry)
        params = {"session": session, "segment": segment, "line": line, "size": len(line) + 1}
        with self.db.connection() as conn:
            row = conn.execute(_APPEND_ANY, params).fetchone()
        if row is None:
            raise SegmentNotFoundError(session, segment)
        return int(row[0])

    def append_if_count(
        self, session: SessionId, segment: SegmentId, entry: Entry, expected_count: int
    ) -> bool:
        check_ids(session, segment)
        line = encode_appended(entry)
        params = {
            "session": session,
            "segment": segment,
            "line": line,
            "size": len(line) + 1,
            "expected": expected_count,
        }
        with self.db.connection() as conn:
            if conn.execute(_APPEND_AT, params).fetchone() is not None:
                return True
        self.read_entry_count(session, segment)  # SegmentNotFoundError if that was the reason
        return False

    def append_many_if_count(
        self,
        session: SessionId,
        segment: SegmentId,
        entries: Sequence[Entry],
        expected_count: int,
    ) -> bool:
        """One statement in one transaction: all the lines or none, one commit."""
        check_ids(session, segment)
        lines = [encode_appended(entry) for entry in entries]
        if not lines:
            return self.read_entry_count(session, segment) == expected_count
        params = {
            "session": session,
            "segment": segment,
            "lines": lines,
            "count": len(lines),
            "size": sum(len(line) + 1 for line in lines),
            "expected": expected_count,
        }
        with self.db.connection() as conn:
            if conn.execute(_APPEND_MANY, params).fetchall():
                return True
        self.read_entry_count(session, segment)  # SegmentNotFoundError if that was the reason
        return False

    def create_segment(
        self, session: SessionId, segment: SegmentId, entries: Sequence[Entry]
    ) -> None:
        check_ids(session, segment)
        lines = encode_new_segment(session, entries)
        size = sum(len(line) + 1 for line in lines)
        with self.db.connection() as conn, conn.transaction():
            # A no-op update rather than DO NOTHING: it waits for (and then survives) a
            # concurrent delete of the session instead of racing its foreign-key check.
            conn.execute(
                "INSERT INTO yoi_sessions AS s (session_id) VALUES (%s::uuid) "
                "ON CONFLICT (session_id) DO UPDATE SET created_at = s.created_at",
                (session,),
            )
            created = conn.execute(
                "INSERT INTO yoi_segments (segment_id, session_id, entry_count, log_bytes) "
                "VALUES (%s::uuid, %s::uuid, %s, %s) ON CONFLICT (segment_id) DO NOTHING "
                "RETURNING 1",
                (segment, session, len(lines), size),
            ).fetchone()
            if created is None:
                owner = conn.execute(
                    "SELECT session_id::text FROM yoi_segments WHERE segment_id = %s::uuid",
                    (segment,),
                ).fetchone()
                raise SegmentExistsError(owner[0] if owner else session, segment)
            conn.execute(
                "INSERT INTO yoi_entries (segment_id, seq, line) "
                "SELECT %s::uuid, ord, line "
                "FROM unnest(%s::bytea[]) WITH ORDINALITY AS t(line, ord)",
                (segment, lines),
            )

    def truncate(self, session: SessionId, segment: SegmentId, keep: int) -> None:
        check_ids(session, segment)
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT entry_count FROM yoi_segments "
                "WHERE segment_id = %s::uuid AND session_id = %s::uuid FOR UPDATE",
                (segment, session),
            ).fetchone()
            if row is None:
                raise SegmentNotFoundError(session, segment)
            count = int(row[0])
            if not 1 <= keep <= count:
                raise TruncateRangeError(f"cannot keep {keep} entries of a segment holding {count}")
            if keep == count:
                return
            conn.execute(
                "DELETE FROM yoi_entries WHERE segment_id = %s::uuid AND seq > %s",
                (segment, keep),
            )
            conn.execute(
                "UPDATE yoi_segments SET entry_count = %s, modified_at = clock_timestamp(), "
                "log_bytes = (SELECT coalesce(sum(octet_length(line) + 1), 0) FROM yoi_entries "
                "WHERE segment_id = %s::uuid) WHERE segment_id = %s::uuid",
                (keep, segment, segment),
            )

    def append_trace(
        self, session: SessionId, segment: SegmentId, record: Mapping[str, Any]
    ) -> None:
        check_ids(session, segment)
        line = orjson.dumps(record)
        with self.db.connection() as conn:
            row = conn.execute(
                """
                WITH segment AS (
                    UPDATE yoi_segments
                    SET trace_bytes = trace_bytes + %(size)s, modified_at = clock_timestamp()
                    WHERE segment_id = %(segment)s::uuid AND session_id = %(session)s::uuid
                    RETURNING segment_id
                )
                INSERT INTO yoi_traces (segment_id, record)
                SELECT segment_id, %(line)s FROM segment RETURNING 1
                """,
                {"session": session, "segment": segment, "line": line, "size": len(line) + 1},
            ).fetchone()
        if row is None:
            raise SegmentNotFoundError(session, segment)

    def delete_session(
        self, session: SessionId, *, guard: Callable[[], bool] | None = None
    ) -> bool:
        """Delete the session and everything in it, in one transaction.

        ``guard``, if given, is called with the session and all its segments row-locked (no
        append, truncate, trace or new segment can get in); the session is deleted only if it
        returns true.
        """
        parse_session_id(session)
        with self.db.connection() as conn, conn.transaction():
            found = conn.execute(
                "SELECT FROM yoi_sessions WHERE session_id = %s::uuid FOR UPDATE", (session,)
            ).fetchone()
            if found is None:
                return False
            if guard is not None:
                conn.execute(
                    "SELECT FROM yoi_segments WHERE session_id = %s::uuid FOR UPDATE", (session,)
                )
                if not guard():
                    return False
            conn.execute("DELETE FROM yoi_sessions WHERE session_id = %s::uuid", (session,))
        return True

    # ---- reading ----

    def read(
        self, session: SessionId, segment: SegmentId, start: int = 0, limit: int | None = None
    ) -> list[Entry]:
        check_ids(session, segment)
        if start < 0 or (limit is not None and limit < 0):
            raise ValueError("start and limit must not be negative")
        end = _MAX_SEQ if limit is None else min(start + limit, _MAX_SEQ)
        params = {"session": session, "segment": segment, "start": min(start, _MAX_SEQ), "end": end}
        with self.db.connection() as conn:
            rows = conn.cursor(binary=True).execute(_READ, params).fetchall()
            if not rows:
                if not self._exists(conn, session, segment):
                    raise SegmentNotFoundError(session, segment)
                raise CorruptSegmentError(
                    self._label(session, segment), 1, 0, "segment has no segment_start"
                )
            if rows[0][0] != 1:
                raise CorruptSegmentError(
                    self._label(session, segment), 1, 0, "segment has no segment_start"
                )
            check_segment_head(self._label(session, segment), bytes(rows[0][1]))
            selected = rows if start == 0 and limit != 0 else rows[1:]
            if start == 0 and limit == 0:
                selected = []
            entries: list[Entry] = []
            for seq, line in selected:
                try:
                    entries.append(decode_entry(bytes(line)))
                except EntryDecodeError as exc:
                    raise self._corrupt(conn, session, segment, seq, exc.args[0]) from exc
        return entries

    def _corrupt(
        self, conn: Connection, session: SessionId, segment: SegmentId, seq: int, reason: str
    ) -> CorruptSegmentError:
        row = conn.execute(
            "SELECT coalesce(sum(octet_length(line) + 1), 0) FROM yoi_entries "
            "WHERE segment_id = %s::uuid AND seq < %s",
            (segment, seq),
        ).fetchone()
        offset = int(row[0]) if row else 0
        return CorruptSegmentError(self._label(session, segment), seq, offset, reason)

    @staticmethod
    def _exists(conn: Connection, session: SessionId, segment: SegmentId) -> bool:
        row = conn.execute(
            "SELECT FROM yoi_segments WHERE segment_id = %s::uuid AND session_id = %s::uuid",
            (segment, session),
        ).fetchone()
        return row is not None

    def read_entry_count(self, session: SessionId, segment: SegmentId) -> int:
        check_ids(session, segment)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT entry_count FROM yoi_segments "
                "WHERE segment_id = %s::uuid AND session_id = %s::uuid",
                (segment, session),
            ).fetchone()
        if row is None:
            raise SegmentNotFoundError(session, segment)
        return int(row[0])

    def exists(self, session: SessionId, segment: SegmentId) -> bool:
        check_ids(session, segment)
        with self.db.connection() as conn:
            return self._exists(conn, session, segment)

    def list_sessions(self) -> list[SessionInfo]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"""
                SELECT s.session_id::text, {_SESSION_ACTIVITY},
                       coalesce(sum(g.log_bytes + g.trace_bytes), 0)::bigint,
                       count(g.segment_id)::int
                FROM yoi_sessions s LEFT JOIN yoi_segments g USING (session_id)
                GROUP BY s.session_id, s.created_at
                ORDER BY 2 DESC, s.session_id DESC
                """  # noqa: S608 (constant expression)
            ).fetchall()
        return [
            SessionInfo(SessionId(session), int(activity), int(size), int(count))
            for session, activity, size, count in rows
        ]

    def list_segments(self, session: SessionId) -> list[SegmentInfo]:
        parse_session_id(session)
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT segment_id::text, log_bytes + trace_bytes, {_MS.format('modified_at')} "  # noqa: S608 (constant expression)
                "FROM yoi_segments WHERE session_id = %s::uuid ORDER BY segment_id DESC",
                (session,),
            ).fetchall()
        return [SegmentInfo(SegmentId(segment), int(size), int(ms)) for segment, size, ms in rows]

    def lookup_session_of(self, segment: SegmentId) -> SessionId | None:
        parse_segment_id(segment)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT session_id::text FROM yoi_segments WHERE segment_id = %s::uuid",
                (segment,),
            ).fetchone()
        return None if row is None else SessionId(row[0])

    def session_modified_at(self, session: SessionId) -> int | None:
        parse_session_id(session)
        with self.db.connection() as conn:
            row = conn.execute(
                f"SELECT {_SESSION_ACTIVITY} FROM yoi_sessions s "  # noqa: S608 (constant expression)
                "LEFT JOIN yoi_segments g USING (session_id) "
                "WHERE s.session_id = %s::uuid GROUP BY s.created_at",
                (session,),
            ).fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        self.db.close()


def open_postgres_session_store(url: str) -> PostgresSessionStore:
    """Open the session store at ``url`` (``postgresql://...``), migrating its schema if needed."""
    config = parse_url(url)
    return PostgresSessionStore(config, Database.open(config))
