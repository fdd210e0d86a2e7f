"""What the session tables hold: exact bytes, no orphans, guarded deletes, located corruption."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from waiting import wait_until
from yoi_session_store.errors import CorruptSegmentError, SegmentNotFoundError
from yoi_session_store.ids import new_segment_id, new_session_id
from yoi_session_store.model import Extension
from yoi_session_store.testing.samples import segment_start
from yoi_store_postgres.session_store import PostgresSessionStore, open_postgres_session_store

Sql = Callable[..., list[tuple[Any, ...]]]
WAITING_FOR_A_LOCK = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"


@pytest.fixture
def store(store_url: str) -> Iterator[PostgresSessionStore]:
    store = open_postgres_session_store(store_url)
    yield store
    store.close()


def _counts(sql: Sql) -> tuple[int, ...]:
    [row] = sql(
        "SELECT (SELECT count(*) FROM yoi_sessions), (SELECT count(*) FROM yoi_segments), "
        "(SELECT count(*) FROM yoi_entries), (SELECT count(*) FROM yoi_traces)"
    )
    return tuple(int(n) for n in row)


def test_entry_bytes_are_kept_exactly_as_written_unknown_fields_included(
    store: PostgresSessionStore, sql: Sql
) -> None:
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session)])
    line = b'{"kind":"from_the_future","ts":5,"nested":{"z":1,"a":[true,null]},"\xc3\xa9":"x"}'
    sql("INSERT INTO yoi_entries (segment_id, seq, line) VALUES (%s, 2, %s)", (segment, line))
    sql("UPDATE yoi_segments SET entry_count = 2")
    store.append(session, segment, Extension(6, "d", {"k": 1}))
    store.truncate(session, segment, 3)
    rows = sql("SELECT line FROM yoi_entries ORDER BY seq")
    assert bytes(rows[1][0]) == line
    assert store.read(session, segment, 1, 1)[0].kind == "from_the_future"  # type: ignore[union-attr]


def test_deleting_a_session_leaves_no_rows_behind(store: PostgresSessionStore, sql: Sql) -> None:
    session, kept = new_session_id(), new_session_id()
    for owner in (session, session, kept):
        segment = new_segment_id()
        store.create_segment(owner, segment, [segment_start(owner), Extension(1, "d", 1)])
        store.append_trace(owner, segment, {"request": "x"})
    assert _counts(sql) == (2, 3, 6, 3)
    assert store.delete_session(session)
    assert _counts(sql) == (1, 1, 2, 1)


def test_a_failed_create_leaves_no_rows_behind(store: PostgresSessionStore, sql: Sql) -> None:
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session)])
    before = _counts(sql)
    other = new_session_id()
    with pytest.raises(Exception, match="already exists"):
        store.create_segment(other, segment, [segment_start(other)])
    assert _counts(sql) == before


def test_guarded_delete_decides_with_appends_held_off(
    store: PostgresSessionStore, sql: Sql
) -> None:
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session)])
    assert not store.delete_session(session, guard=lambda: False)
    assert store.read_entry_count(session, segment) == 1
    appended: list[float] = []

    def append_during_guard() -> None:
        try:
            store.append(session, segment, Extension(1, "d", 1))
            appended.append(time.monotonic())
        except SegmentNotFoundError:
            appended.append(-1.0)

    writer = threading.Thread(target=append_during_guard)

    def guard() -> bool:
        writer.start()
        wait_until(  # the append waits for the decision
            lambda: sql(WAITING_FOR_A_LOCK) != [(0,)], "the append waiting for the row lock"
        )
        assert appended == []
        return True

    assert store.delete_session(session, guard=guard)
    writer.join()
    assert appended == [-1.0]  # and then finds the session gone, never recreating it
    assert store.list_sessions() == []


def test_a_corrupt_row_is_reported_with_its_line_and_offset(
    store: PostgresSessionStore, sql: Sql
) -> None:
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session), Extension(1, "d", 1)])
    store.append(session, segment, Extension(2, "d", 2))
    sql("UPDATE yoi_entries SET line = %s WHERE seq = 3", (b'{"kind": "extension", ',))
    [(offset,)] = sql("SELECT sum(octet_length(line) + 1) FROM yoi_entries WHERE seq < 3")
    with pytest.raises(CorruptSegmentError) as caught:
        store.read_all(session, segment)
    assert (caught.value.line, caught.value.offset) == (3, offset)
    assert segment in caught.value.path
    assert len(store.read(session, segment, 0, 2)) == 2  # the good prefix still reads
