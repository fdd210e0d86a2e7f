"""Tests every session store backend must pass (see :mod:`yoi_session_store.testing`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MappingProxyType

from yoi_session_store import history
from yoi_session_store.contract import SessionStore
from yoi_session_store.errors import (
    InvalidEntryError,
    InvalidIdError,
    SegmentExistsError,
    SegmentNotFoundError,
    TruncateRangeError,
    UnknownTurnError,
)
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id
from yoi_session_store.model import (
    AssistantItem,
    Entry,
    Extension,
    Invoke,
    MessageItem,
    RequestConfig,
    SegmentOrigin,
    SegmentStart,
    TextContent,
    TurnEnd,
    UnknownRecord,
)
from yoi_session_store.testing.samples import TS, every_entry_kind, segment_start, turn


@contextmanager
def expect_raises(kind: type[BaseException]) -> Iterator[None]:
    """Like ``pytest.raises`` without needing pytest at import time."""
    try:
        yield
    except kind:
        return
    raise AssertionError(f"expected {kind.__name__} to be raised")


def _new(store: SessionStore, extra: list[Entry] | None = None) -> tuple[SessionId, SegmentId]:
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session), *(extra or [])])
    return session, segment


def _note(n: int) -> Extension:
    return Extension(TS + n, "test", {"n": n})


#: How long a test waits for another thread or for the store's clock before it fails.
WAIT_SECONDS = 10.0


def _activity(store: SessionStore, session: SessionId) -> int:
    modified = store.session_modified_at(session)
    assert modified is not None
    return modified


def _append_until_active_after(
    store: SessionStore, session: SessionId, segment: SegmentId, moment_ms: int
) -> None:
    """Append notes to ``session`` until its activity time is later than ``moment_ms``.

    A store stamps activity by its own clock (a file system's, a database server's), which may
    be coarse: an append can land in the same tick, so repeat it until the tick shows.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    n = 0
    while _activity(store, session) <= moment_ms:
        assert time.monotonic() < deadline, "the store's activity time did not move forward"
        n += 1
        store.append(session, segment, _note(n))


class SessionStoreConformance:
    """The session store contract as tests. Subclasses provide a ``store`` fixture."""

    # ---- creating and reading ----------------------------------------------------------------

    def test_created_segment_reads_back(self, store: SessionStore) -> None:
        session, segment = new_session_id(), new_segment_id()
        assert not store.exists(session, segment)
        entries: list[Entry] = [segment_start(session), _note(1), _note(2)]
        store.create_segment(session, segment, entries)
        assert store.exists(session, segment)
        assert store.read_all(session, segment) == entries
        assert store.read_entry_count(session, segment) == 3

    def test_every_entry_kind_round_trips(self, store: SessionStore) -> None:
        session, segment = new_session_id(), new_segment_id()
        entries = every_entry_kind(session, new_segment_id())
        store.create_segment(session, segment, entries[:1])
        for entry in entries[1:]:
            store.append(session, segment, entry)
        assert store.read_all(session, segment) == entries

    def test_append_returns_the_new_count_and_keeps_order(self, store: SessionStore) -> None:
        session, segment = _new(store)
        counts = [store.append(session, segment, _note(n)) for n in range(5)]
        assert counts == [2, 3, 4, 5, 6]
        assert store.read_all(session, segment)[1:] == [_note(n) for n in range(5)]

    def test_read_from_a_position_with_a_limit(self, store: SessionStore) -> None:
        session, segment = _new(store, [_note(n) for n in range(10)])
        assert store.read(session, segment, 3, 2) == [_note(2), _note(3)]
        assert store.read(session, segment, 9) == [_note(8), _note(9)]
        assert store.read(session, segment, 11) == []
        assert store.read(session, segment, 0, 0) == []

    def test_a_negative_start_or_limit_is_refused(self, store: SessionStore) -> None:
        session, segment = _new(store, [_note(1)])
        for start, limit in ((-1, None), (0, -1)):
            with expect_raises(ValueError):
                store.read(session, segment, start, limit)

    def test_missing_segment_is_not_found(self, store: SessionStore) -> None:
        session, segment = new_session_id(), new_segment_id()
        with expect_raises(SegmentNotFoundError):
            store.read_all(session, segment)
        with expect_raises(SegmentNotFoundError):
            store.read_entry_count(session, segment)
        with expect_raises(SegmentNotFoundError):
            store.append(session, segment, _note(1))
        with expect_raises(SegmentNotFoundError):
            store.append_trace(session, segment, {"x": 1})
        assert store.list_sessions() == []

    def test_unknown_fields_and_kinds_are_kept(self, store: SessionStore) -> None:
        session, segment = _new(store)
        odd = Invoke(TS, "wakeup", extra_fields=MappingProxyType({"future": [1, {"a": None}]}))
        unknown = UnknownRecord("worker_event", MappingProxyType({"ts": TS, "who": "w1"}))
        store.append(session, segment, odd)
        store.append(session, segment, unknown)
        store.append(session, segment, _note(1))
        assert store.read_all(session, segment)[1:] == [odd, unknown, _note(1)]
        store.truncate(session, segment, 3)
        assert store.read_all(session, segment)[1:] == [odd, unknown]

    # ---- the segment_start rules -------------------------------------------------------------

    def test_create_segment_never_overwrites(self, store: SessionStore) -> None:
        session, segment = _new(store, [_note(1)])
        with expect_raises(SegmentExistsError):
            store.create_segment(session, segment, [segment_start(session)])
        with expect_raises(SegmentExistsError):
            store.append(session, segment, segment_start(session))
        assert store.read_entry_count(session, segment) == 2

    def test_segment_ids_are_unique_across_sessions(self, store: SessionStore) -> None:
        _, segment = _new(store)
        other = new_session_id()
        with expect_raises(SegmentExistsError):
            store.create_segment(other, segment, [segment_start(other)])
        assert not store.exists(other, segment)

    def test_appending_a_segment_start_creates_the_segment(self, store: SessionStore) -> None:
        session, segment = new_session_id(), new_segment_id()
        assert store.append(session, segment, segment_start(session)) == 1
        assert store.read_entry_count(session, segment) == 1

    def test_segment_start_rules_are_enforced(self, store: SessionStore) -> None:
        session, segment = new_session_id(), new_segment_id()
        with expect_raises(InvalidEntryError):
            store.create_segment(session, segment, [])
        with expect_raises(InvalidEntryError):
            store.create_segment(session, segment, [_note(1)])
        with expect_raises(InvalidEntryError):
            store.create_segment(session, segment, [segment_start(new_session_id())])
        with expect_raises(InvalidEntryError):
            store.create_segment(session, segment, [segment_start(session)] * 2)
        assert not store.exists(session, segment)
        assert store.list_sessions() == []
        store.create_segment(session, segment, [segment_start(session)])
        with expect_raises(InvalidEntryError):
            store.append_if_count(session, segment, segment_start(session), 1)
        assert store.read_entry_count(session, segment) == 1

    def test_ids_must_be_canonical(self, store: SessionStore) -> None:
        session, segment = _new(store)
        for bad in (session.upper(), session.replace("-", ""), "../" + session[3:], "", "x"):
            with expect_raises(InvalidIdError):
                store.read_all(SessionId(bad), segment)
            with expect_raises(InvalidIdError):
                store.read_all(session, SegmentId(bad))
            with expect_raises(InvalidIdError):
                store.delete_session(SessionId(bad))
            with expect_raises(InvalidIdError):
                store.lookup_session_of(SegmentId(bad))
        assert store.read_entry_count(session, segment) == 1

    # ---- compare-and-append ------------------------------------------------------------------

    def test_append_if_count(self, store: SessionStore) -> None:
        session, segment = _new(store)
        assert store.append_if_count(session, segment, _note(1), 1)
        assert not store.append_if_count(session, segment, _note(2), 1)
        assert store.append_if_count(session, segment, _note(3), 2)
        assert store.read_all(session, segment)[1:] == [_note(1), _note(3)]

    def test_append_many_if_count_writes_all_in_order_or_nothing(self, store: SessionStore) -> None:
        session, segment = _new(store)
        assert store.append_many_if_count(session, segment, [_note(1), _note(2)], 1)
        assert not store.append_many_if_count(session, segment, [_note(3), _note(4)], 1)
        assert store.append_many_if_count(session, segment, [], 3)
        assert not store.append_many_if_count(session, segment, [], 2)
        assert store.append_many_if_count(session, segment, [_note(5)], 3)
        assert store.read_all(session, segment)[1:] == [_note(1), _note(2), _note(5)]
        with expect_raises(InvalidEntryError):  # a bad entry anywhere: none of them lands
            store.append_many_if_count(session, segment, [_note(6), segment_start(session)], 4)
        assert store.read_entry_count(session, segment) == 4

    def test_concurrent_batches_never_interleave(self, store: SessionStore) -> None:
        session, segment = _new(store)

        def batcher(w: int) -> None:
            done = 0
            while done < 20:
                count = store.read_entry_count(session, segment)
                batch = [_note(w * 1000 + done * 10 + k) for k in range(3)]
                if store.append_many_if_count(session, segment, batch, count):
                    done += 1

        _run_threads([lambda w=w: batcher(w) for w in range(4)])  # type: ignore[misc]
        notes = [e.payload["n"] for e in store.read_all(session, segment)[1:]]  # type: ignore[union-attr]
        assert len(notes) == 4 * 20 * 3
        for start in range(0, len(notes), 3):  # every batch is whole and in order
            first = notes[start]
            assert notes[start : start + 3] == [first, first + 1, first + 2]

    def test_concurrent_compare_and_append_lets_one_win(self, store: SessionStore) -> None:
        session, segment = _new(store)
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def attempt(n: int) -> None:
            barrier.wait()
            results.append(store.append_if_count(session, segment, _note(n), 1))

        _run_threads([lambda n=n: attempt(n) for n in range(8)])  # type: ignore[misc]
        assert sorted(results) == [False] * 7 + [True]
        assert store.read_entry_count(session, segment) == 2

    def test_concurrent_appends_lose_nothing(self, store: SessionStore) -> None:
        session, segment = _new(store)

        def writer(w: int) -> None:
            for i in range(50):
                store.append(session, segment, _note(w * 1000 + i))

        _run_threads([lambda w=w: writer(w) for w in range(4)])  # type: ignore[misc]
        notes = [e for e in store.read_all(session, segment) if isinstance(e, Extension)]
        assert len(notes) == 200
        for w in range(4):
            mine = [e.payload["n"] for e in notes if e.payload["n"] // 1000 == w]
            assert mine == [w * 1000 + i for i in range(50)]

    # ---- truncate ----------------------------------------------------------------------------

    def test_truncate_keeps_a_prefix(self, store: SessionStore) -> None:
        session, segment = _new(store, [_note(n) for n in range(5)])
        store.truncate(session, segment, 3)
        assert store.read_all(session, segment)[1:] == [_note(0), _note(1)]
        assert store.append(session, segment, _note(9)) == 4
        store.truncate(session, segment, 4)
        assert store.read_entry_count(session, segment) == 4

    def test_truncate_out_of_range_changes_nothing(self, store: SessionStore) -> None:
        session, segment = _new(store, [_note(1)])
        for keep in (0, -1, 3):
            with expect_raises(TruncateRangeError):
                store.truncate(session, segment, keep)
        assert store.read_entry_count(session, segment) == 2
        with expect_raises(SegmentNotFoundError):
            store.truncate(session, new_segment_id(), 1)

    # ---- listing and lookup ------------------------------------------------------------------

    def test_list_sessions_by_activity_with_size(self, store: SessionStore) -> None:
        older, older_segment = _new(store)
        newer, newer_segment = _new(store)
        _append_until_active_after(store, newer, newer_segment, _activity(store, older))
        listed = store.list_sessions()
        assert [info.session_id for info in listed] == [newer, older]
        assert all(info.ok and info.error is None for info in listed)
        size_before = listed[1].size_bytes
        assert size_before > 0
        assert listed[1].segment_count == 1
        _append_until_active_after(store, older, older_segment, _activity(store, newer))
        listed = store.list_sessions()
        assert [info.session_id for info in listed] == [older, newer]
        assert listed[0].size_bytes > size_before
        assert listed[0].last_activity_ms >= listed[1].last_activity_ms

    def test_list_segments_newest_first(self, store: SessionStore) -> None:
        session, first = _new(store)
        second = new_segment_id()
        store.create_segment(session, second, [segment_start(session), _note(1)])
        listed = store.list_segments(session)
        assert [info.segment_id for info in listed] == [second, first]
        assert listed[0].size_bytes > listed[1].size_bytes > 0
        assert store.list_segments(new_session_id()) == []
        assert [info.segment_count for info in store.list_sessions()] == [2]

    def test_lookup_session_of(self, store: SessionStore) -> None:
        session, segment = _new(store)
        other_session, other_segment = _new(store)
        assert store.lookup_session_of(segment) == session
        assert store.lookup_session_of(other_segment) == other_session
        assert store.lookup_session_of(new_segment_id()) is None

    def test_session_modified_at(self, store: SessionStore) -> None:
        assert store.session_modified_at(new_session_id()) is None
        before = time.time_ns() // 1_000_000
        session, segment = _new(store)
        first = store.session_modified_at(session)
        assert first is not None and first >= before - 1000
        store.append(session, segment, _note(1))
        assert _activity(store, session) >= first  # never backwards
        _append_until_active_after(store, session, segment, first)  # forwards with the clock

    # ---- traces ------------------------------------------------------------------------------

    def test_trace_is_separate_from_the_log(self, store: SessionStore) -> None:
        session, segment = _new(store)
        size = store.list_segments(session)[0].size_bytes
        store.append_trace(session, segment, {"request": {"model": "m"}, "n": 1})
        assert store.read_entry_count(session, segment) == 1
        assert store.list_segments(session)[0].size_bytes > size

    # ---- deletion ----------------------------------------------------------------------------

    def test_delete_session(self, store: SessionStore) -> None:
        session, segment = _new(store, [_note(1)])
        kept, kept_segment = _new(store)
        assert store.delete_session(session)
        assert not store.delete_session(session)
        assert not store.exists(session, segment)
        assert store.lookup_session_of(segment) is None
        assert store.list_segments(session) == []
        assert store.session_modified_at(session) is None
        assert [info.session_id for info in store.list_sessions()] == [kept]
        assert store.read_entry_count(kept, kept_segment) == 1

    def test_append_after_delete_never_recreates_the_session(self, store: SessionStore) -> None:
        session, segment = _new(store)
        store.append(session, segment, _note(1))  # a writer that has the segment open
        store.delete_session(session)
        with expect_raises(SegmentNotFoundError):
            store.append(session, segment, _note(2))
        with expect_raises(SegmentNotFoundError):
            store.append_trace(session, segment, {"n": 2})
        assert store.list_sessions() == []

    def test_delete_racing_appends(self, store: SessionStore) -> None:
        session, segment = _new(store)
        acknowledged: list[int] = []
        appending = threading.Event()
        stopped_by: list[BaseException] = []

        def writer() -> None:
            deadline = time.monotonic() + WAIT_SECONDS
            n = 0
            while time.monotonic() < deadline:
                try:
                    store.append(session, segment, _note(n))
                except SegmentNotFoundError as exc:
                    stopped_by.append(exc)
                    return
                acknowledged.append(n)
                appending.set()
                n += 1

        thread = threading.Thread(target=writer)
        thread.start()
        assert appending.wait(WAIT_SECONDS)  # the delete lands while appends are under way
        store.delete_session(session)
        thread.join(WAIT_SECONDS)
        assert not thread.is_alive()
        assert len(stopped_by) == 1 and acknowledged  # the writer was stopped by the delete
        assert store.list_sessions() == []
        assert not store.exists(session, segment)

    # ---- helpers over the contract -----------------------------------------------------------

    def test_restore_replays(self, store: SessionStore) -> None:
        ref = history.create_session(store, system_prompt="be brief")
        for entry in turn(number=1) + turn(number=2):
            store.append(ref.session_id, ref.segment_id, entry)
        state = history.restore(store, ref.session_id, ref.segment_id)
        assert state.session_id == ref.session_id
        assert state.system_prompt == "be brief"
        assert state.turn_count == 2
        assert state.entries_count == 17
        assert len(state.history) == 8

    def test_fork_at_a_turn(self, store: SessionStore) -> None:
        ref = history.create_session(store, system_prompt="p")
        for entry in turn(number=1) + turn(number=2):
            store.append(ref.session_id, ref.segment_id, entry)
        forked = history.fork_at(store, ref.session_id, ref.segment_id, 1)
        assert forked.session_id == ref.session_id
        start = store.read_all(forked.session_id, forked.segment_id)[0]
        assert isinstance(start, SegmentStart)
        assert start.forked_from == SegmentOrigin(ref.segment_id, 1)
        assert len(start.history) == 4
        at_start = history.fork_at(store, ref.session_id, ref.segment_id, 0)
        start = store.read_all(at_start.session_id, at_start.segment_id)[0]
        assert isinstance(start, SegmentStart) and start.history == ()
        for bad_turn in (3, -1):
            with expect_raises(UnknownTurnError):
                history.fork_at(store, ref.session_id, ref.segment_id, bad_turn)
        assert len(store.list_segments(ref.session_id)) == 3

    def test_fork_makes_a_detached_session(self, store: SessionStore) -> None:
        ref = history.create_session(store, system_prompt="p")
        for entry in turn(number=1):
            store.append(ref.session_id, ref.segment_id, entry)
        copy = history.fork(store, ref.session_id, ref.segment_id)
        assert copy.session_id != ref.session_id
        start = store.read_all(copy.session_id, copy.segment_id)[0]
        assert isinstance(start, SegmentStart)
        assert start.forked_from is None and len(start.history) == 4

    def test_compacted_segment(self, store: SessionStore) -> None:
        ref = history.create_session(store, system_prompt="p")
        summary = MessageItem("system", (TextContent("summary"),))
        compacted = history.create_compacted_segment(
            store,
            ref.session_id,
            ref.segment_id,
            history=[summary],
            system_prompt="p",
            config=RequestConfig(),
            at_turn_index=0,
        )
        state = history.restore(store, compacted.session_id, compacted.segment_id)
        assert state.history == [summary]
        assert state.compacted_from == SegmentOrigin(ref.segment_id, 0)

    def test_conflicting_writer_forks_instead_of_appending(self, store: SessionStore) -> None:
        writer = history.SessionWriter.create(store, system_prompt="p")
        original = writer.ref
        writer.append(TurnEnd(TS, 1))
        other = history.SessionWriter.open(store, original.session_id, original.segment_id)
        other.append(_note(1))  # the other writer gets there first
        reply = AssistantItem(TS, MessageItem("assistant", (TextContent("mine"),)))
        result = writer.append(reply)
        assert result.forked and writer.ref != original
        assert writer.ref.session_id == original.session_id
        assert store.read_all(original.session_id, original.segment_id)[-1] == _note(1)
        forked = store.read_all(writer.ref.session_id, writer.ref.segment_id)
        assert forked[-1] == reply
        assert isinstance(forked[0], SegmentStart)
        assert forked[0].forked_from == SegmentOrigin(original.segment_id, 1)
        assert not writer.append(_note(2)).forked  # continues on its own fork
        assert store.read_entry_count(writer.ref.session_id, writer.ref.segment_id) == 3


def _run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
