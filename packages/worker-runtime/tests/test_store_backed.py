"""The store-backed Runtime (the fs-store extra): kept as Pods and sessions, reopened, shared,
crashed.

Every test runs on real stores: ``fs`` in tmp_path, or the stores' ``memory://`` backends. Store
failures are injected at the session-store contract (``failing_stores``), since a read-only
directory does not stop root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.feature("fs-store")

if "fs-store" not in os.environ.get("YOI_TEST_FEATURES", "fs-store"):
    pytest.skip("runs in the fs-store session", allow_module_level=True)

from failing_stores import FailingSessionStore  # noqa: E402
from yoi_pod_store.model import ActivePointer, PodRecord  # noqa: E402
from yoi_pod_store.plugins import open_pod_store  # noqa: E402
from yoi_pod_store.references import referenced_sessions  # noqa: E402
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id  # noqa: E402
from yoi_session_store.model import UserInput  # noqa: E402
from yoi_session_store.plugins import open_session_store  # noqa: E402
from yoi_worker_runtime import (  # noqa: E402
    BuiltinProfile,
    CreateWorkerRequest,
    InsufficientStorage,
    InvalidRequest,
    Runtime,
    RuntimeEvent,
    StoreIo,
    StoreSchemes,
    TaskIntent,
    WorkerConflict,
    WorkerInput,
    WorkerRef,
    WorkerRuntimeError,
    open_persistent_runtime,
    to_json,
)
from yoi_worker_runtime.store_backed import RuntimeAlreadyOpen, open_runtime_on  # noqa: E402

HERE = Path(__file__).parent


def task(name: str | None = None, objective: str = "review") -> CreateWorkerRequest:
    """A Worker that records input only (what turns store is in test_turns.py)."""
    return CreateWorkerRequest(
        name=name, intent=TaskIntent(objective=objective), profile=BuiltinProfile(value="none")
    )


def user(content: str) -> WorkerInput:
    return WorkerInput(kind="user", content=content)


def snapshot(runtime: Runtime) -> Any:
    """Everything a reader sees, as JSON (diagnostics left out: a reopen may add some)."""
    return to_json(
        (
            runtime.summary().worker_count,
            runtime.summary().last_event_id,
            runtime.status,
            runtime.list_workers(),
            [runtime.transcript_projection(worker.worker_ref) for worker in runtime.list_workers()],
            runtime.read_events(runtime.event_cursor_from_start(), limit=256),
        )
    )


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOI_DATA_DIR", str(tmp_path / "home"))
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    for name in ("YOI_STORE", "YOI_POD_STORE", "YOI_SESSION_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["fs", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "fs":
        return f"fs://{tmp_path / 'data'}"
    return f"memory://fs-store-test-{uuid.uuid4().hex}"


@pytest.fixture
def fs_store(tmp_path: Path) -> str:
    return f"fs://{tmp_path / 'data'}"


@pytest.fixture
def opened() -> Iterator[list[Runtime]]:
    runtimes: list[Runtime] = []
    yield runtimes
    for runtime in runtimes:
        runtime.close()


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }


# --- reopen and the runtime id ----------------------------------------------------------------


def test_reopening_restores_workers_transcripts_and_events(store: str) -> None:
    with open_persistent_runtime(store, runtime_id="rt-a", display_name="first") as runtime:
        assert runtime.backend == "store"
        scheme = store.partition(":")[0]
        assert runtime.summary().stores == StoreSchemes(pod_store=scheme, session_store=scheme)
        alpha = runtime.create_worker(task("alpha")).worker_ref
        generated = runtime.create_worker(task(objective="second")).worker_ref
        runtime.send_input(alpha, user("one"))
        runtime.send_input(alpha, WorkerInput(kind="system", content="two"))
        runtime.send_input(generated, user("three"))
        runtime.stop_worker(generated, reason="done")
        runtime.create_worker(task("gamma"))
        runtime.cancel_worker(runtime.worker_ref("gamma"))
        before = snapshot(runtime)
    with open_persistent_runtime(store, runtime_id="rt-a", display_name="ignored") as reopened:
        assert snapshot(reopened) == before
        assert reopened.display_name == "first"
        detail = reopened.worker_detail(generated)
        assert (detail.status, detail.status_reason) == ("stopped", "done")
        assert [diagnostic.code for diagnostic in reopened.diagnostics()] == [
            "runtime.local_default_resources",
            "worker.tools_less",
        ] * 3
        # and it goes on where it stopped
        ack = reopened.send_input(alpha, user("four"))
        assert (ack.transcript_sequence, ack.event_id) == (3, len(before[5]["events"]) + 1)


def test_a_stopped_runtime_reopens_stopped(store: str) -> None:
    with open_persistent_runtime(store, runtime_id="rt-s") as runtime:
        runtime.create_worker(task("alpha"))
        runtime.stop_runtime()
        before = snapshot(runtime)
    with open_persistent_runtime(store, runtime_id="rt-s") as reopened:
        assert reopened.status == "stopped"
        assert snapshot(reopened) == before


def test_without_a_runtime_id_the_last_opened_runtime_is_reopened(store: str) -> None:
    with open_persistent_runtime(store) as first:
        generated = first.runtime_id
        assert generated.startswith("runtime-")
        first.create_worker(task("alpha"))
    with open_persistent_runtime(store) as again:
        assert again.runtime_id == generated
        assert [worker.worker_id for worker in again.list_workers()] == ["alpha"]
    with open_persistent_runtime(store, runtime_id="rt-other"):
        pass
    with open_persistent_runtime(store) as latest:
        assert latest.runtime_id == "rt-other"  # the most recently opened one
        latest.stop_runtime()
    with open_persistent_runtime(store) as fresh:  # a stopped runtime is not picked
        assert fresh.runtime_id not in (generated, "rt-other")


def test_the_default_store_is_fs_under_the_data_dir(tmp_path: Path) -> None:
    with open_persistent_runtime(runtime_id="rt-home") as runtime:
        runtime.create_worker(task("alpha"))
    assert (tmp_path / "home" / "pods" / "alpha" / "metadata.json").is_file()
    assert (tmp_path / "home" / "runtimes" / "rt-home" / "runtime.json").is_file()


def test_a_bad_store_url_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match=r"store URL: .*'nosuch'"):
        open_persistent_runtime("nosuch:///x")


# --- the storage mapping ----------------------------------------------------------------------


def test_workers_are_pods_and_transcripts_and_events_are_sessions(store: str) -> None:
    with open_persistent_runtime(store, runtime_id="rt-map") as runtime:
        alpha = runtime.create_worker(task("alpha")).worker_ref
        runtime.send_input(alpha, user("hello"))
        pods = open_pod_store(store)
        sessions = open_session_store(store)
        record = pods.read("alpha")
        assert record is not None and record.active is not None
        assert record.hosting_runtime_id == "rt-map"
        assert record.worker_status is not None and record.worker_status.value == "running"
        assert record.resolved_manifest_snapshot["definition"]["intent"] == {
            "kind": "task",
            "objective": "review",
        }
        assert record.created_at is not None and record.last_activity_at is not None
        segment = record.active.segment_id
        assert segment is not None
        entries = sessions.read_all(SessionId(record.active.session_id), SegmentId(segment))
        assert [type(entry).__name__ for entry in entries] == ["SegmentStart", "UserInput"]
        assert isinstance(entries[1], UserInput)
        runtime_record = pods.read_runtime("rt-map")
        assert runtime_record is not None and runtime_record.events_session_id is not None
        references = referenced_sessions(pods)
        for session in (record.active.session_id, runtime_record.events_session_id):
            assert session in references  # prune keeps what the Runtime needs
        runtime.stop_worker(alpha)
        stopped = pods.read("alpha")
        assert stopped is not None and stopped.worker_status is not None
        assert stopped.worker_status.value == "stopped"


# --- one host per runtime ---------------------------------------------------------------------


def test_a_second_open_of_a_hosted_runtime_fails_and_changes_nothing(
    fs_store: str, tmp_path: Path
) -> None:
    with open_persistent_runtime(fs_store, runtime_id="rt-one") as runtime:
        runtime.send_input(runtime.create_worker(task("alpha")).worker_ref, user("x"))
        before = tree(tmp_path / "data")
        with pytest.raises(RuntimeAlreadyOpen, match=r"runtime rt-one is already open") as err:
            open_persistent_runtime(fs_store, runtime_id="rt-one")
        assert err.value.code == "runtime_already_hosted"
        assert isinstance(err.value, WorkerRuntimeError)
        assert tree(tmp_path / "data") == before
        code = (
            "import sys\n"
            "from yoi_worker_runtime import open_persistent_runtime, WorkerRuntimeError\n"
            "try:\n"
            f"    open_persistent_runtime({fs_store!r}, runtime_id='rt-one')\n"
            "except WorkerRuntimeError as exc:\n"
            "    print(exc.code, exc, sep='|'); sys.exit(3)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 3, result.stderr
        assert result.stdout.startswith("runtime_already_hosted|runtime rt-one is already open")
        assert tree(tmp_path / "data") == before
        runtime.send_input(runtime.worker_ref("alpha"), user("still mine"))


# --- create by name: restore, conflict, fresh after delete ------------------------------------


def test_a_name_with_restorable_metadata_is_restored_by_another_runtime(store: str) -> None:
    with open_persistent_runtime(store, runtime_id="rt-a") as first:
        ref = first.create_worker(task("alpha", objective="original")).worker_ref
        first.send_input(ref, user("one"))
        first.send_input(ref, user("two"))
    with open_persistent_runtime(store, runtime_id="rt-b") as second:
        detail = second.create_worker(task("alpha", objective="newer"))
        assert detail.worker_ref.runtime_id == "rt-b"
        assert detail.intent == TaskIntent(objective="original")  # the stored definition wins
        assert detail.transcript_len == 2
        page = second.transcript_projection(detail.worker_ref)
        assert [item.content for item in page.items] == ["one", "two"]
        kinds = [
            event.kind for event in second.read_events(second.event_cursor_from_start()).events
        ]
        assert kinds == ["runtime_started", "worker_restored"]
        second.send_input(detail.worker_ref, user("three"))
    with open_persistent_runtime(store, runtime_id="rt-b") as again:
        page = again.transcript_projection(again.worker_ref("alpha"))
        assert [item.content for item in page.items] == ["one", "two", "three"]
    with open_persistent_runtime(store, runtime_id="rt-a") as former:
        assert former.list_workers() == []
        assert [d.code for d in former.diagnostics()] == ["worker.moved"]
        assert "runtime rt-b hosts its Pod now" in former.diagnostics()[0].message


def test_a_name_hosted_by_a_live_runtime_is_a_conflict(store: str, opened: list[Runtime]) -> None:
    first = open_persistent_runtime(store, runtime_id="rt-a")
    opened.append(first)
    first.create_worker(task("alpha"))
    second = open_persistent_runtime(store, runtime_id="rt-b")
    opened.append(second)
    with pytest.raises(WorkerConflict, match=r"worker alpha is hosted by runtime rt-a") as err:
        second.create_worker(task("alpha"))
    assert err.value.code == "worker_conflict"
    assert second.list_workers() == []
    assert second.summary().last_event_id == 1
    first.send_input(first.worker_ref("alpha"), user("unaffected"))


def test_after_the_metadata_is_deleted_the_name_starts_fresh(store: str) -> None:
    with open_persistent_runtime(store, runtime_id="rt-a") as first:
        ref = first.create_worker(task("alpha")).worker_ref
        first.send_input(ref, user("old"))
    pods = open_pod_store(store)
    old = pods.read("alpha")
    assert old is not None and old.active is not None
    assert pods.delete_if_stopped("alpha").deleted
    with open_persistent_runtime(store, runtime_id="rt-b") as second:
        detail = second.create_worker(task("alpha", objective="new"))
        assert detail.intent == TaskIntent(objective="new")
        assert detail.transcript_len == 0
        kinds = [
            event.kind for event in second.read_events(second.event_cursor_from_start()).events
        ]
        assert kinds[-1] == "worker_created"
    new = pods.read("alpha")
    assert new is not None and new.active is not None
    assert new.active.session_id != old.active.session_id


def test_metadata_that_is_not_a_worker_is_never_silently_replaced(store: str) -> None:
    pods = open_pod_store(store)
    pods.set_active("alpha", ActivePointer(new_session_id()))  # a pending Pod of another tool
    with open_persistent_runtime(store, runtime_id="rt-a") as runtime:
        with pytest.raises(WorkerConflict, match=r"cannot be restored as a Worker.*pod delete"):
            runtime.create_worker(task("alpha"))
        assert runtime.list_workers() == []
    record = pods.read("alpha")
    assert record is not None and record.hosting_runtime_id is None


def transcript_location(store: str, worker_id: str) -> tuple[SessionId, SegmentId]:
    pod = open_pod_store(store).read(worker_id)
    assert pod is not None and pod.active is not None and pod.active.segment_id is not None
    return SessionId(pod.active.session_id), SegmentId(pod.active.segment_id)


def test_a_transcript_that_lost_acknowledged_entries_is_never_restored(
    fs_store: str, tmp_path: Path
) -> None:
    """Sequence 5, once acknowledged, must never name other content: the Runtime refuses to
    restore a transcript shorter than its event log counts (the log holds no text to refill it)."""
    with open_persistent_runtime(fs_store, runtime_id="rt-a") as runtime:
        ref = runtime.create_worker(task("alpha")).worker_ref
        for number in range(1, 6):
            assert runtime.send_input(ref, user(f"input {number}")).transcript_sequence == number
    session, segment = transcript_location(fs_store, "alpha")
    segment_file = tmp_path / "data" / "sessions" / session / f"{segment}.jsonl"
    lines = segment_file.read_bytes().splitlines(keepends=True)
    segment_file.write_bytes(b"".join(lines[:-1]))  # the last acknowledged input is gone

    with open_persistent_runtime(fs_store, runtime_id="rt-a") as reopened:
        assert reopened.list_workers() == []
        (lost,) = [d for d in reopened.diagnostics() if d.code == "worker.transcript_lost"]
        assert lost.severity == "error" and lost.worker_ref == ref
        assert "counts 5 transcript entries, its session holds 4" in lost.message
        assert "not restored" in lost.message and "yoi pod delete alpha" in lost.message
        with pytest.raises(WorkerConflict, match=r"counts 5 transcript entries.*holds 4"):
            reopened.create_worker(task("alpha"))
        assert reopened.list_workers() == []
    with open_persistent_runtime(fs_store, runtime_id="rt-b") as other:
        with pytest.raises(
            WorkerConflict, match=r"the event log of runtime rt-a counts 5 transcript entries"
        ):
            other.create_worker(task("alpha"))
        assert other.list_workers() == []
    assert segment_file.read_bytes() == b"".join(lines[:-1])  # refusing changed nothing


def test_a_restore_judges_the_transcript_by_the_log_of_its_last_host(store: str) -> None:
    """The entries of the last host (even its restore marker) may all be lost: the Pod still
    names that host, whose log counts what it acknowledged."""
    with open_persistent_runtime(store, runtime_id="rt-a") as first:
        ref = first.create_worker(task("alpha")).worker_ref
        first.send_input(ref, user("one"))
        first.send_input(ref, user("two"))
    session, segment = transcript_location(store, "alpha")
    written_by_first = len(open_session_store(store).read_all(session, segment))
    with open_persistent_runtime(store, runtime_id="rt-b") as second:
        moved = second.create_worker(task("alpha")).worker_ref
        assert second.send_input(moved, user("three")).transcript_sequence == 3
    open_session_store(store).truncate(session, segment, written_by_first)
    with open_persistent_runtime(store, runtime_id="rt-c") as third:
        with pytest.raises(
            WorkerConflict, match=r"the event log of runtime rt-b counts 3 transcript entries"
        ):
            third.create_worker(task("alpha"))
        assert third.list_workers() == []


# --- liveness ---------------------------------------------------------------------------------


def test_pods_probe_live_while_the_runtime_is_open_and_stopped_after_close(store: str) -> None:
    pods = open_pod_store(store)
    runtime = open_persistent_runtime(store, runtime_id="rt-live")
    runtime.create_worker(task("alpha"))
    assert pods.probe("alpha").live
    runtime.close()
    assert pods.probe("alpha").stopped
    with open_persistent_runtime(store, runtime_id="rt-live"):
        assert pods.probe("alpha").live


def test_pods_of_a_sigkilled_runtime_probe_stopped(fs_store: str) -> None:
    code = (
        "import sys\n"
        "from yoi_worker_runtime import *\n"
        f"runtime = open_persistent_runtime({fs_store!r}, runtime_id='rt-kill')\n"
        "runtime.create_worker(CreateWorkerRequest(name='alpha', intent=AssistantIntent(),"
        " profile=RuntimeDefaultProfile()))\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        pods = open_pod_store(fs_store)
        assert pods.probe("alpha").live
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert pods.probe("alpha").stopped
    finally:
        process.kill()
        process.wait()
    with open_persistent_runtime(fs_store, runtime_id="rt-kill") as reopened:
        assert [worker.worker_id for worker in reopened.list_workers()] == ["alpha"]


# --- torn tails and stray files ---------------------------------------------------------------


def test_a_torn_tail_and_stray_files_are_diagnostics_not_a_dead_runtime(
    fs_store: str, tmp_path: Path
) -> None:
    with open_persistent_runtime(fs_store, runtime_id="rt-torn") as runtime:
        ref = runtime.create_worker(task("alpha")).worker_ref
        runtime.send_input(ref, user("kept"))
        before = snapshot(runtime)
    pods = open_pod_store(fs_store)
    data = tmp_path / "data"
    runtime_record = pods.read_runtime("rt-torn")
    pod = pods.read("alpha")
    assert runtime_record is not None and pod is not None and pod.active is not None
    events_dir = data / "sessions" / str(runtime_record.events_session_id)
    (events_log,) = events_dir.glob("*.jsonl")
    with events_log.open("ab") as file:
        file.write(b'{"kind":"extension","ts":1,"domain":"yoi.runtime.ev')  # a torn append
    transcript = data / "sessions" / pod.active.session_id / f"{pod.active.segment_id}.jsonl"
    with transcript.open("ab") as file:
        file.write(b'{"kind":"user_in')
    (events_dir / "notes.txt").write_text("stray")
    (events_dir / f"{new_segment_id()}.jsonl").write_text("not even json\n")
    (data / "runtimes" / "rt-torn" / "stray.tmp").write_text("stray")
    (data / "pods" / "stray-file").write_text("stray")
    (data / "sessions" / "stray.txt").write_text("stray")

    with (
        pytest.warns(UserWarning),  # the store cuts the torn tails off on the next append
        open_persistent_runtime(fs_store, runtime_id="rt-torn") as reopened,
    ):
        assert snapshot(reopened) == before
        codes = sorted(d.code for d in reopened.diagnostics() if d.code.startswith("store."))
        assert codes == ["store.stray_segment", "store.torn_tail", "store.torn_tail"]
        messages = " ".join(d.message for d in reopened.diagnostics())
        assert str(tmp_path) not in messages
        ack = reopened.send_input(ref, user("after"))
        assert ack.transcript_sequence == 2
        after = snapshot(reopened)
    with open_persistent_runtime(fs_store, runtime_id="rt-torn") as third:
        assert snapshot(third) == after
        assert [d.code for d in third.diagnostics()].count("store.torn_tail") == 0


# --- failed writes ----------------------------------------------------------------------------


def open_failing(store: str, runtime_id: str) -> tuple[Runtime, FailingSessionStore]:
    sessions = FailingSessionStore(open_session_store(store))
    runtime = open_runtime_on(
        open_pod_store(store), sessions, runtime_id=runtime_id, close_stores=True
    )
    return runtime, sessions


def events_session(store: str, runtime_id: str) -> SessionId:
    record = open_pod_store(store).read_runtime(runtime_id)
    assert record is not None and record.events_session_id is not None
    return SessionId(record.events_session_id)


def test_a_failed_commit_leaves_memory_and_store_in_agreement(store: str) -> None:
    runtime, sessions = open_failing(store, "rt-fail")
    ref = runtime.create_worker(task("alpha")).worker_ref
    runtime.send_input(ref, user("kept"))
    before = snapshot(runtime)
    events = events_session(store, "rt-fail")
    sessions.failing.add(("append_if_count", events))
    with pytest.raises(StoreIo, match=r"No space left on device"):
        runtime.send_input(ref, user("lost"))
    with pytest.raises(StoreIo):
        runtime.stop_worker(ref)
    with pytest.raises(StoreIo):
        runtime.create_worker(task("beta"))
    with pytest.raises(StoreIo):
        runtime.stop_runtime()
    assert snapshot(runtime) == before
    pods = open_pod_store(store)
    assert pods.read("beta") is None  # the half-made Pod was taken back
    alpha = pods.read("alpha")
    assert alpha is not None and alpha.worker_status is not None
    assert alpha.worker_status.value == "running"  # the status written ahead was put back
    sessions.failing.clear()
    assert runtime.send_input(ref, user("next")).transcript_sequence == 2
    after = snapshot(runtime)
    runtime.close()
    with open_persistent_runtime(store, runtime_id="rt-fail") as reopened:
        assert snapshot(reopened) == after
        assert not [d for d in reopened.diagnostics() if d.code.startswith("store.")]


def half_undone(store: str) -> tuple[Runtime, FailingSessionStore, WorkerRef, Any]:
    """A Runtime whose last change failed at its commit and whose undo (truncating the
    transcript) failed too, and still fails: the Runtime, its failing store, the Worker and
    what readers saw before the change."""
    runtime, sessions = open_failing(store, "rt-broken")
    ref = runtime.create_worker(task("alpha")).worker_ref
    runtime.send_input(ref, user("kept"))
    before = snapshot(runtime)
    transcript, _ = transcript_location(store, "alpha")
    events = events_session(store, "rt-broken")
    sessions.failing |= {("append_if_count", events), ("truncate", transcript)}
    with pytest.raises(InsufficientStorage):
        runtime.send_input(ref, user("half-done"))  # in the transcript, never committed
    sessions.failing.discard(("append_if_count", events))
    return runtime, sessions, ref, before


def test_a_change_that_cannot_be_undone_blocks_changes_until_the_undo_succeeds(
    store: str,
) -> None:
    runtime, sessions, ref, before = half_undone(store)
    for _ in range(2):  # every change retries the undo first, and is refused while it fails
        with pytest.raises(InsufficientStorage, match=r"could not be undone.*retried"):
            runtime.send_input(ref, user("refused"))
    assert snapshot(runtime) == before
    sessions.failing.clear()  # space is back: the next change finishes the undo, then runs
    assert runtime.send_input(ref, user("next")).transcript_sequence == 2
    after = snapshot(runtime)
    runtime.close()
    with open_persistent_runtime(store, runtime_id="rt-broken") as reopened:
        assert snapshot(reopened) == after
        assert not [d for d in reopened.diagnostics() if d.code.startswith("store.")]


def test_a_change_left_half_undone_is_repaired_by_a_reopen(store: str) -> None:
    runtime, _, ref, before = half_undone(store)
    runtime.close()  # closed before the undo could finish
    with open_persistent_runtime(store, runtime_id="rt-broken") as reopened:
        assert snapshot(reopened) == before
        assert reopened.diagnostics()[0].code == "store.rolled_back"
        assert reopened.send_input(ref, user("next")).transcript_sequence == 2


# --- crash: every acknowledged change survives a SIGKILL --------------------------------------


def test_every_acknowledged_change_survives_sigkill(fs_store: str, tmp_path: Path) -> None:
    acked: list[dict[str, Any]] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    for round_ in range(3):
        process = subprocess.Popen(
            [sys.executable, str(HERE / "store_backed_host.py"), fs_store, "rt-crash"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        try:
            ready = process.stdout.readline()
            assert ready.startswith('{"ready"'), process.stderr.read() if process.stderr else ""
            for _ in range(40 + 25 * round_):
                line = process.stdout.readline()
                assert line, process.stderr.read() if process.stderr else ""
                acked.append(json.loads(line))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        # whatever the killed process printed after we stopped reading was acknowledged too
        acked += [json.loads(line) for line in process.stdout.read().splitlines() if line]
        with open_persistent_runtime(fs_store, runtime_id="rt-crash") as reopened:
            events: list[RuntimeEvent] = []
            cursor = reopened.event_cursor_from_start()
            while True:
                batch = reopened.read_events(cursor)
                events += batch.events
                cursor = batch.cursor
                if not batch.has_more:
                    break
            by_id = {event.id: event for event in events}
            for ack in acked:
                event = by_id[ack["event_id"]]
                assert event.kind == ack["kind"]
                assert event.worker_ref is not None
                assert event.worker_ref.worker_id == ack["worker_id"]
                if ack["kind"] == "worker_input_accepted":
                    ref = reopened.worker_ref(ack["worker_id"])
                    page = reopened.transcript_projection(ref, start=ack["sequence"] - 1, limit=1)
                    assert page.items[0].content == ack["content"]
                    assert page.items[0].event_id == ack["event_id"]
            assert [d for d in reopened.diagnostics() if d.severity == "error"] == []
    assert len(acked) >= 40 + 65 + 90


def test_a_pod_of_another_tool_is_listed_with_the_runtimes_workers(store: str) -> None:
    pods = open_pod_store(store)
    pods.write(PodRecord("other"))
    with open_persistent_runtime(store, runtime_id="rt-list") as runtime:
        runtime.create_worker(task("alpha"))
        assert [listing.name for listing in pods.list_pods()] == ["alpha", "other"]
        assert [worker.worker_id for worker in runtime.list_workers()] == ["alpha"]
