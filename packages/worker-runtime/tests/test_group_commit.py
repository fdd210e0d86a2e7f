"""Group commit on a real store: concurrent writers share syncs, and still lose nothing.

Crash rounds: a host process with 16 writer threads is SIGKILLed at a random moment (a fixed
seed; replay a failure with YOI_TEST_SEED=<seed>), reopened, and every acknowledged input must
be there exactly once, transcripts and event log in agreement. A failing sync of the event log
fails every change of that commit, and leaves memory and disk as they were.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.feature("fs-store")

if "fs-store" not in os.environ.get("YOI_TEST_FEATURES", "fs-store"):
    pytest.skip("runs in the fs-store session", allow_module_level=True)

from failing_stores import FailingSessionStore  # noqa: E402
from yoi_pod_store.plugins import open_pod_store  # noqa: E402
from yoi_session_store.plugins import open_session_store  # noqa: E402
from yoi_worker_runtime import (  # noqa: E402
    BuiltinProfile,
    CreateWorkerRequest,
    Runtime,
    RuntimeEvent,
    StoreIo,
    TaskIntent,
    TranscriptEntry,
    WorkerInput,
    open_persistent_runtime,
)
from yoi_worker_runtime.store_backed import open_runtime_on  # noqa: E402

HERE = Path(__file__).parent
SEED = int(os.environ.get("YOI_TEST_SEED", "20261129"))
ROUNDS = 10


def all_events(runtime: Runtime) -> list[RuntimeEvent]:
    events: list[RuntimeEvent] = []
    cursor = runtime.event_cursor_from_start()
    while True:
        batch = runtime.read_events(cursor)
        events += batch.events
        cursor = batch.cursor
        if not batch.has_more:
            return events


def check_agreement(runtime: Runtime, acked: list[dict[str, Any]]) -> None:
    """Every acknowledged input exactly once where its ack said; the log and the transcripts
    agree; nothing is reported broken."""
    events = all_events(runtime)
    assert [event.id for event in events] == list(range(1, len(events) + 1))
    by_id = {event.id: event for event in events}
    contents: dict[str, list[str]] = {}
    for worker in runtime.list_workers():
        ref = runtime.worker_ref(worker.worker_id)
        page_start = 0
        items: list[TranscriptEntry] = []
        while True:
            page = runtime.transcript_projection(ref, start=page_start)
            items += page.items
            if page.next_start is None:
                break
            page_start = page.next_start
        assert [item.sequence for item in items] == list(range(1, len(items) + 1))
        for item in items:
            event = by_id[item.event_id]
            assert event.kind == "worker_input_accepted"
            assert event.worker_ref == ref
        contents[worker.worker_id] = [item.content for item in items]
    for ack in acked:
        found = contents[ack["worker_id"]]
        assert found.count(ack["content"]) == 1, f"{ack} (replay with YOI_TEST_SEED={SEED})"
        assert found[ack["sequence"] - 1] == ack["content"]
        assert by_id[ack["event_id"]].kind == "worker_input_accepted"
    assert [item for item in runtime.diagnostics() if item.severity == "error"] == []


def test_sigkilled_concurrent_writers_lose_no_acknowledged_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = f"fs://{tmp_path / 'data'}"
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]),
        "YOI_RUNTIME_DIR": str(tmp_path / "run"),
    }
    chance = random.Random(SEED)
    acked: list[dict[str, Any]] = []
    batched = 0
    for _ in range(ROUNDS):
        process = subprocess.Popen(
            [sys.executable, str(HERE / "concurrent_host.py"), store, "rt-group"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        lines: list[str] = []
        try:
            ready = process.stdout.readline()
            assert ready.startswith('{"ready"'), process.stderr.read() if process.stderr else ""
            for _ in range(chance.randint(20, 300)):  # the moment to kill: a random one
                line = process.stdout.readline()
                assert line, process.stderr.read() if process.stderr else ""
                lines.append(line)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        lines += process.stdout.read().splitlines()  # printed before it died: acknowledged
        process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
        for line in lines:
            if not line.strip():
                continue
            document = json.loads(line)
            if "batch" in document:
                batched += 1
            else:
                acked.append(document)
        with open_persistent_runtime(store, runtime_id="rt-group") as reopened:
            check_agreement(reopened, acked)
    assert len(acked) >= ROUNDS * 20
    assert batched > 0, "16 concurrent writers never shared a commit"


def test_a_failed_sync_fails_every_change_of_its_commit_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = f"fs://{tmp_path / 'data'}"
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    sessions = FailingSessionStore(open_session_store(data))
    runtime = open_runtime_on(
        open_pod_store(data), sessions, runtime_id="rt-fail", close_stores=True
    )
    refs = [
        runtime.create_worker(
            CreateWorkerRequest(
                name=f"w{index}",
                intent=TaskIntent(objective="x"),
                profile=BuiltinProfile(value="none"),
            )
        ).worker_ref
        for index in range(8)
    ]
    persistence = runtime._persistence
    events_session = persistence.events_session  # type: ignore[attr-defined]
    acked: list[dict[str, Any]] = []
    failed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(refs))

    def writer(index: int) -> None:
        start.wait()
        for step in range(30):
            content = f"w{index} {step}"
            if index == 0 and step == 10:
                sessions.failing_once.add(("append_many_if_count", events_session))
            try:
                ack = runtime.send_input(refs[index], WorkerInput(kind="user", content=content))
            except StoreIo:
                with lock:
                    failed.append(content)
                continue
            with lock:
                acked.append(
                    {
                        "worker_id": refs[index].worker_id,
                        "sequence": ack.transcript_sequence,
                        "event_id": ack.event_id,
                        "content": content,
                    }
                )

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(len(refs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed, "the failing sync failed no change"
    assert len(acked) + len(failed) == 8 * 30
    check_agreement(runtime, acked)  # memory: every ack, nothing of the failed ones
    in_memory = {
        worker.worker_id: [
            item.content for item in runtime.transcript_projection(worker.worker_ref).items
        ]
        for worker in runtime.list_workers()
    }
    everything = {content for contents in in_memory.values() for content in contents}
    assert everything.isdisjoint(failed)
    runtime.close()
    with open_persistent_runtime(data, runtime_id="rt-fail") as reopened:  # disk: the same
        check_agreement(reopened, acked)
        on_disk = {
            worker.worker_id: [
                item.content for item in reopened.transcript_projection(worker.worker_ref).items
            ]
            for worker in reopened.list_workers()
        }
    assert on_disk == in_memory
