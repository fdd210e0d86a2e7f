"""Thread safety: dense sequences under contention, blocking waits, readers not stuck behind I/O."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from recording_persistence import RecordingPersistence
from yoi_worker_runtime import (
    BuiltinProfile,
    CreateWorkerRequest,
    EventBatch,
    Runtime,
    RuntimeLimits,
    TaskIntent,
    WorkerInput,
    WorkerInteractionAck,
)

#: Workers here only record input: these tests are about the write path, not turns.
RECORD_ONLY = BuiltinProfile(value="none")


def task(name: str) -> CreateWorkerRequest:
    return CreateWorkerRequest(name=name, intent=TaskIntent(objective="work"), profile=RECORD_ONLY)


def test_many_threads_sending_input_lose_nothing_and_keep_sequences_dense() -> None:
    limits = RuntimeLimits(max_transcript_projection_items=1000, max_event_batch_items=1000)
    runtime = Runtime.open(runtime_id="rt", limits=limits, persistence=RecordingPersistence())
    refs = [runtime.create_worker(task(f"w{number}")).worker_ref for number in range(4)]
    threads, per_thread = 16, 50
    barrier = threading.Barrier(threads)

    def send(thread: int) -> list[WorkerInteractionAck]:
        barrier.wait()
        return [
            runtime.send_input(
                refs[(thread + step) % 4], WorkerInput(kind="user", content=f"{thread}:{step}")
            )
            for step in range(per_thread)
        ]

    with ThreadPoolExecutor(threads) as pool:
        acks = [ack for result in pool.map(send, range(threads)) for ack in result]

    total = threads * per_thread
    assert sorted(ack.event_id for ack in acks) == list(range(6, 6 + total))
    events = runtime.read_events(runtime.event_cursor_from_start()).events
    assert [event.id for event in events] == list(range(1, 6 + total))
    contents: set[str] = set()
    for ref in refs:
        page = runtime.transcript_projection(ref)
        assert [item.sequence for item in page.items] == list(range(1, page.total_items + 1))
        # Each ack names the entry that holds its input.
        by_sequence = {item.sequence: item for item in page.items}
        for ack in (ack for ack in acks if ack.worker_ref == ref):
            assert by_sequence[ack.transcript_sequence].event_id == ack.event_id
        contents |= {item.content for item in page.items}
    assert len(contents) == total
    assert sum(summary.transcript_len for summary in runtime.list_workers()) == total


def test_wait_for_events_wakes_when_an_event_arrives() -> None:
    runtime = Runtime.open(runtime_id="rt")
    cursor = runtime.event_cursor_now()
    results: list[EventBatch] = []
    waiter = threading.Thread(
        target=lambda: results.append(runtime.wait_for_events(cursor, timeout=10))
    )
    waiter.start()
    # Nothing new yet: it blocks in the wait instead of polling back empty.
    deadline = time.monotonic() + 10
    while not blocked_in_condition_wait(waiter, "wait_for_events"):
        assert waiter.is_alive() and time.monotonic() < deadline, "the waiter never blocked"
        waiter.join(0.001)  # a poll interval, bounded by the deadline
    started = time.monotonic()
    runtime.create_worker(task("a"))
    waiter.join(5)
    assert not waiter.is_alive()
    assert time.monotonic() - started < 5
    assert [event.kind for event in results[0].events] == ["worker_created"]
    assert results[0].cursor.next_event_id == 3


def blocked_in_condition_wait(thread: threading.Thread, caller: str) -> bool:
    """Is ``thread`` blocked in a ``threading.Condition`` wait that ``caller`` started?"""
    frame = sys._current_frames().get(thread.ident or 0)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return names[:1] == ["wait"] and caller in names


def test_wait_for_events_times_out_with_an_empty_batch() -> None:
    runtime = Runtime.open(runtime_id="rt")
    cursor = runtime.event_cursor_now()
    started = time.monotonic()
    batch = runtime.wait_for_events(cursor, timeout=0.2)
    elapsed = time.monotonic() - started
    assert batch.events == () and batch.cursor == cursor and batch.has_more is False
    assert 0.15 <= elapsed < 2


def test_wait_for_events_returns_at_once_when_events_are_there_or_none_can_come() -> None:
    runtime = Runtime.open(runtime_id="rt")
    started = time.monotonic()
    assert runtime.wait_for_events(runtime.event_cursor_from_start(), timeout=10).events
    runtime.stop_runtime()
    cursor = runtime.event_cursor_now()
    assert runtime.wait_for_events(cursor, timeout=10).events == ()
    assert time.monotonic() - started < 2


def test_readers_do_not_wait_behind_a_slow_store_write() -> None:
    store = RecordingPersistence()
    runtime = Runtime.open(runtime_id="rt", persistence=store)
    ref = runtime.create_worker(task("a")).worker_ref
    store.stall_input.set()
    writer = threading.Thread(
        target=lambda: runtime.send_input(ref, WorkerInput(kind="user", content="slow"))
    )
    writer.start()
    try:
        assert store.stalled.wait(5)
        started = time.monotonic()
        assert runtime.worker_detail(ref).transcript_len == 0  # not committed yet
        assert runtime.summary().last_event_id == 2
        assert runtime.list_workers()[0].worker_id == "a"
        assert runtime.read_events(runtime.event_cursor_from_start()).has_more is False
        assert time.monotonic() - started < 1
    finally:
        store.release.set()
        writer.join(5)
    assert runtime.worker_detail(ref).transcript_len == 1
