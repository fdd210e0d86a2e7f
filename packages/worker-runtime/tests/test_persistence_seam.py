"""The write-ahead persistence seam: failed writes change nothing, reopen restores everything."""

from __future__ import annotations

import pytest
from recording_persistence import RecordingPersistence
from yoi_worker_runtime import (
    BuiltinProfile,
    CreateWorkerRequest,
    InvalidRequest,
    MemoryPersistence,
    RestoredWorker,
    Runtime,
    RuntimeClosed,
    RuntimeDefaultProfile,
    RuntimeDiagnostic,
    RuntimePersistence,
    StoreCorrupt,
    StoreIo,
    TaskIntent,
    WorkerConflict,
    WorkerInput,
    WorkerRef,
    to_json,
)

#: Workers here only record input: these tests are about the write path, not turns.
RECORD_ONLY = BuiltinProfile(value="none")


def task(name: str | None = None) -> CreateWorkerRequest:
    return CreateWorkerRequest(
        name=name, intent=TaskIntent(objective="review"), profile=RECORD_ONLY
    )


def snapshot(runtime: Runtime) -> object:
    """Everything a reader can see, as JSON."""
    return to_json(
        (
            runtime.summary(),
            runtime.list_workers(),
            [runtime.transcript_projection(worker.worker_ref) for worker in runtime.list_workers()],
            runtime.read_events(runtime.event_cursor_from_start()),
            runtime.diagnostics(),
        )
    )


def test_both_persistences_satisfy_the_protocol() -> None:
    assert isinstance(MemoryPersistence(), RuntimePersistence)
    assert isinstance(RecordingPersistence(), RuntimePersistence)


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (OSError(28, "No space left on device", "/secret/path"), "insufficient_storage"),
        (OSError(5, "Input/output error", "/secret/path"), "store_io"),
        (StoreIo("disk full"), "store_io"),
    ],
)
def test_a_failed_input_write_leaves_memory_and_store_unchanged(
    failure: Exception, code: str
) -> None:
    store = RecordingPersistence()
    runtime = Runtime.open(runtime_id="rt", persistence=store)
    ref = runtime.create_worker(task("a")).worker_ref
    runtime.send_input(ref, WorkerInput(kind="user", content="first"))
    before = snapshot(runtime)
    stored_events = list(store.events)
    store.fail_next["prepare WorkerChange"] = failure
    with pytest.raises(StoreIo) as caught:
        runtime.send_input(ref, WorkerInput(kind="user", content="second"))
    assert caught.value.code == code
    assert "/secret" not in str(caught.value)
    assert snapshot(runtime) == before
    assert store.events == stored_events
    # The next write takes the id the failed one would have had: ids stay dense.
    ack = runtime.send_input(ref, WorkerInput(kind="user", content="second"))
    assert (ack.transcript_sequence, ack.event_id) == (2, 4)


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("prepare WorkerCreated", lambda rt: rt.create_worker(task("b"))),
        ("prepare WorkerStatusChanged", lambda rt: rt.stop_worker(rt.worker_ref("a"))),
        (
            "prepare WorkerStatusChanged",
            lambda rt: rt.cancel_worker(rt.worker_ref("a"), reason="no"),
        ),
        ("prepare RuntimeStop", lambda rt: rt.stop_runtime()),
        ("commit", lambda rt: rt.create_worker(task("b"))),
        ("commit", lambda rt: rt.stop_runtime()),
        ("claim_worker", lambda rt: rt.create_worker(task("b"))),
    ],
)
def test_every_failed_write_leaves_memory_unchanged(method: str, action: object) -> None:
    store = RecordingPersistence()
    runtime = Runtime.open(runtime_id="rt", persistence=store)
    runtime.create_worker(task("a"))
    before = snapshot(runtime)
    store.fail_next[method] = OSError(5, "Input/output error")
    with pytest.raises(StoreIo, match=r"^store I/O failed: Input/output error$"):
        action(runtime)  # type: ignore[operator]
    assert snapshot(runtime) == before
    assert runtime.status == "running"


def test_a_failed_start_opens_nothing_and_releases_the_store() -> None:
    store = RecordingPersistence()
    store.fail_next["record_runtime_started"] = OSError(13, "Permission denied")
    with pytest.raises(StoreIo, match=r"Permission denied"):
        Runtime.open(persistence=store)
    assert store.runtime is None
    assert store.closed == 1


def test_reopening_restores_workers_transcripts_and_events() -> None:
    store = RecordingPersistence()
    first = Runtime.open(runtime_id="rt", display_name="kept", persistence=store)
    a = first.create_worker(task("a")).worker_ref
    b = first.create_worker(task("b")).worker_ref
    first.send_input(a, WorkerInput(kind="user", content="hello"))
    first.send_input(a, WorkerInput(kind="system", content="note"))
    first.cancel_worker(b)
    before = snapshot(first)
    first.close()
    assert store.closed == 1

    second = Runtime.open(persistence=store)
    assert second.runtime_id == "rt" and second.display_name == "kept"
    assert snapshot(second) == before
    ack = second.send_input(a, WorkerInput(kind="user", content="again"))
    assert (ack.transcript_sequence, ack.event_id) == (3, 7)
    second.close()


def test_reopening_a_stopped_runtime_keeps_it_stopped() -> None:
    store = RecordingPersistence()
    first = Runtime.open(runtime_id="rt", persistence=store)
    first.create_worker(task("a"))
    first.stop_runtime()
    first.close()
    second = Runtime.open(persistence=store)
    assert second.status == "stopped"
    assert second.stop_runtime().changed is False


def test_reopening_under_another_runtime_id_is_refused() -> None:
    store = RecordingPersistence()
    Runtime.open(runtime_id="rt", persistence=store).close()
    with pytest.raises(
        InvalidRequest, match=r"runtime id other does not match the stored runtime rt"
    ):
        Runtime.open(runtime_id="other", persistence=store)


def test_store_diagnostics_found_on_load_are_reported_first() -> None:
    store = RecordingPersistence()
    Runtime.open(runtime_id="rt", persistence=store).create_worker(task("a"))
    torn = RuntimeDiagnostic(
        id="store.torn_tail",
        severity="warning",
        code="store.torn_tail",
        message="dropped a torn line",
    )
    store.load_diagnostics.append(torn)
    reopened = Runtime.open(persistence=store)
    assert reopened.diagnostics()[0] == torn
    assert reopened.summary().diagnostic_count == 3


def test_an_inconsistent_store_is_corrupt() -> None:
    store = RecordingPersistence()
    runtime = Runtime.open(runtime_id="rt", persistence=store)
    ref = runtime.create_worker(task("a")).worker_ref
    runtime.send_input(ref, WorkerInput(kind="user", content="hello"))
    store.transcripts["a"].clear()
    with pytest.raises(
        StoreCorrupt, match=r"worker a records 1 transcript entries but 0 were found"
    ):
        Runtime.open(persistence=store)
    store.transcripts["a"].append(runtime.transcript_projection(ref).items[0])
    del store.events[1]
    with pytest.raises(
        StoreCorrupt, match=r"^store is corrupt: event 3 of runtime rt is where 2 belongs$"
    ):
        Runtime.open(persistence=store)


def test_a_kept_worker_name_is_restored_not_started_fresh() -> None:
    old_store = RecordingPersistence()
    old = Runtime.open(runtime_id="old", persistence=old_store)
    old_ref = old.create_worker(task("keeper")).worker_ref
    old.send_input(old_ref, WorkerInput(kind="user", content="remember this"))
    old.stop_runtime()
    kept = RestoredWorker(
        worker=old_store.workers["keeper"], transcript=tuple(old_store.transcripts["keeper"])
    )

    store = RecordingPersistence()
    store.kept["keeper"] = kept
    runtime = Runtime.open(runtime_id="new", persistence=store)
    detail = runtime.create_worker(
        CreateWorkerRequest(
            name="keeper",
            intent=TaskIntent(objective="something else"),
            profile=RuntimeDefaultProfile(),
        )
    )
    assert detail.worker_ref == runtime.worker_ref("keeper")
    assert detail.status == "running" and detail.transcript_len == 1
    assert detail.intent == TaskIntent(objective="review")  # the stored definition wins
    page = runtime.transcript_projection(detail.worker_ref)
    assert [item.content for item in page.items] == ["remember this"]
    event = runtime.read_events(runtime.event_cursor_from_start()).events[-1]
    assert (event.kind, event.message) == ("worker_restored", "worker keeper restored")
    assert store.calls[-2:] == ["prepare WorkerRestored", "commit"]
    ack = runtime.send_input(detail.worker_ref, WorkerInput(kind="user", content="and this"))
    assert ack.transcript_sequence == 2


def test_a_name_hosted_by_another_live_runtime_is_a_typed_conflict() -> None:
    store = RecordingPersistence()
    store.hosted_elsewhere["busy"] = "rt-elsewhere"
    runtime = Runtime.open(runtime_id="rt", persistence=store)
    before = snapshot(runtime)
    with pytest.raises(
        WorkerConflict, match=r"^worker busy is hosted by live runtime rt-elsewhere$"
    ) as caught:
        runtime.create_worker(task("busy"))
    assert caught.value.code == "worker_conflict"
    assert snapshot(runtime) == before


def test_generated_ids_do_not_ask_the_store_to_claim_a_name() -> None:
    store = RecordingPersistence()
    runtime = Runtime.open(persistence=store)
    runtime.create_worker(task())
    assert "claim_worker" not in store.calls


class _MisnamingPersistence(RecordingPersistence):
    """A faulty store: asked for one name, it hands back the Worker kept under another."""

    def __init__(self, kept: RestoredWorker) -> None:
        super().__init__()
        self.wrong = kept

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        return self.wrong


def test_a_store_restoring_the_wrong_worker_is_corrupt() -> None:
    source = RecordingPersistence()
    Runtime.open(runtime_id="rt", persistence=source).create_worker(task("x"))
    store = _MisnamingPersistence(RestoredWorker(worker=source.workers["x"]))
    runtime = Runtime.open(runtime_id="rt", persistence=store)
    with pytest.raises(StoreCorrupt, match=r"the store restored worker x for wanted"):
        runtime.create_worker(task("wanted"))
    assert runtime.list_workers() == []


def test_close_releases_the_store_once_and_blocks_mutations() -> None:
    store = RecordingPersistence()
    runtime = Runtime.open(runtime_id="rt", persistence=store)
    ref = runtime.create_worker(task("a")).worker_ref
    with runtime:
        pass
    runtime.close()
    assert store.closed == 1 and runtime.closed
    with pytest.raises(RuntimeClosed, match=r"^runtime rt is closed$"):
        runtime.send_input(ref, WorkerInput(kind="user", content="late"))
    assert runtime.worker_detail(ref).status == "running"
