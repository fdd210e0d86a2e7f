"""Several processes on one database: Runtimes on different ids, a SIGKILL, racing appenders."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import outlast_lease, wait_until
from yoi_pod_store.contract import DeleteResult
from yoi_pod_store.plugins import open_pod_store
from yoi_pod_store.references import referenced_sessions
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id
from yoi_session_store.model import Extension, UserInput
from yoi_session_store.plugins import open_session_store
from yoi_session_store.testing.samples import segment_start
from yoi_worker_runtime import RuntimeAlreadyOpen, open_persistent_runtime

HERE = Path(__file__).parent
Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(script: str, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(HERE / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def _line(process: subprocess.Popen[str]) -> Any:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"process {process.args!r} ended early"
    return json.loads(line) if line.startswith("{") else line.strip()


def yoi(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "yoi"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_two_runtimes_share_one_database_and_a_killed_ones_pods_become_deletable(
    store_url: str, spawn: Callable[..., subprocess.Popen[str]], sql: Sql
) -> None:
    first = spawn("runtime_host.py", store_url, "rt-a", "a1", "a2")
    second = spawn("runtime_host.py", store_url, "rt-b", "b1", "b2")
    assert "ready" in _line(first) and "ready" in _line(second)
    pods, sessions = open_pod_store(store_url), open_session_store(store_url)
    try:
        listed = {p.name: p.record for p in pods.list_pods()}
        assert sorted(listed) == ["a1", "a2", "b1", "b2"]
        for name, record in listed.items():
            assert record is not None and record.active is not None
            assert record.hosting_runtime_id == f"rt-{name[0]}"
            assert pods.probe(name).live
            # Each Worker's transcript is in the shared session store, in order.
            pointer = record.active
            assert pointer.segment_id is not None
            inputs = [
                entry
                for entry in sessions.read_all(
                    SessionId(pointer.session_id), SegmentId(pointer.segment_id)
                )
                if isinstance(entry, UserInput)
            ]
            assert [e.segments[0].content for e in inputs] == [f"{name} {n}" for n in range(3)]  # type: ignore[union-attr]
        with pytest.raises(RuntimeAlreadyOpen):
            open_persistent_runtime(store_url, runtime_id="rt-a")
        refs = referenced_sessions(pods)
        assert refs.complete and len(refs.session_ids) == 6  # four Workers, two event logs

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        # Its lease expires a TTL and a safety margin after its last renewal.
        wait_until(lambda: pods.probe("a1").stopped, "a1 probing stopped")
        assert pods.probe("a2").stopped
        assert pods.probe("b1").live and pods.probe("b2").live
        assert pods.delete_if_stopped("a1").result is DeleteResult.DELETED
        assert pods.delete_if_stopped("b1").result is DeleteResult.REFUSED

        # The cleanup commands work unchanged on the database.
        listing = yoi("pod", "--store", store_url, "list", "--json")
        assert listing.returncode == 0, listing.stderr
        states = {p["name"]: p["liveness"]["state"] for p in json.loads(listing.stdout)["pods"]}
        assert states == {"a2": "stopped", "b1": "live", "b2": "live"}
        # a2 is over 1 s old: its last write came before its lease's last renewal, which has
        # been expired for a TTL (1 s) and the safety margin.
        pruned = yoi("pod", "--store", store_url, "prune", "--older-than", "1s", "--force")
        assert pruned.returncode == 1, pruned.stderr  # the live Pods are refused
        assert "deleted=1" in pruned.stdout and "refused=2" in pruned.stdout, pruned.stdout
        assert [p.name for p in pods.list_pods()] == ["b1", "b2"]
        dry = yoi(
            "session",
            "--store",
            store_url,
            "prune",
            "--unreferenced",
            "--dry-run",
            "--grace",
            "1s",
            "--json",
        )
        assert dry.returncode == 0, dry.stderr
        report = json.loads(dry.stdout)
        actions = {item["id"]: item["action"] for item in report["items"]}
        assert len(actions) == 6
        assert sorted(actions.values()).count("would_delete") == 2  # a1's and a2's transcripts
        assert len(sessions.list_sessions()) == 6  # a dry run deletes nothing

        outlast_lease(sql, "rt-b")  # the surviving Runtime keeps its lease fresh all along
        assert pods.probe("b1").live
        assert second.stdin is not None
        second.stdin.close()
        assert _line(second) == {"closed": True}
        assert pods.probe("b1").stopped  # a clean close ends the lease at once
        with open_persistent_runtime(store_url, runtime_id="rt-b") as reopened:
            assert [w.worker_id for w in reopened.list_workers()] == ["b1", "b2"]
            assert pods.probe("b1").live
    finally:
        pods.close()
        sessions.close()


def test_concurrent_appender_processes_keep_order_and_lose_nothing(
    store_url: str, spawn: Callable[..., subprocess.Popen[str]], sql: Sql
) -> None:
    session, segment = new_session_id(), new_segment_id()
    with open_session_store(store_url) as store:
        store.create_segment(session, segment, [segment_start(session)])
    per_writer = 150
    writers = [
        spawn("appender.py", store_url, session, segment, str(w), str(per_writer)) for w in range(4)
    ]
    assert all(_line(w) == "ready" for w in writers)
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    assert all(_line(w) == "done" for w in writers)
    with open_session_store(store_url) as store:
        entries = store.read_all(session, segment)
        assert store.read_entry_count(session, segment) == 1 + 4 * per_writer
    notes = [e.payload for e in entries[1:] if isinstance(e, Extension)]
    assert len(notes) == 4 * per_writer
    for w in range(4):
        assert [n["i"] for n in notes if n["writer"] == w] == list(range(per_writer))
    interleaved = sum(1 for a, b in itertools.pairwise(notes) if a["writer"] != b["writer"])
    assert interleaved > 3  # the writers really raced
    assert sql("SELECT min(seq), max(seq), count(*) FROM yoi_entries") == [
        (1, 1 + 4 * per_writer, 1 + 4 * per_writer)
    ]


def test_yoi_runtime_serve_runs_on_the_database_and_releases_it_on_sigterm(
    store_url: str,
) -> None:
    command = [str(Path(sys.executable).parent / "yoi"), "runtime", "serve"]
    server = subprocess.Popen(
        [*command, "--store", store_url, "--runtime-id", "rt-serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pods = open_pod_store(store_url)
    try:
        ready = _line(server)
        assert ready["event"] == "ready" and ready["runtime_id"] == "rt-serve"
        assert pods.probe_runtime("rt-serve").live
        record = pods.read_runtime("rt-serve")
        assert record is not None and record.events_session_id is not None
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
        assert pods.probe_runtime("rt-serve").stopped
    finally:
        server.kill()
        server.wait()
        pods.close()


def test_a_stalled_host_whose_lease_lapsed_stops_writing(
    spawn: Callable[..., subprocess.Popen[str]], store_url: str
) -> None:
    host = spawn("stalling_host.py", store_url, "rt-stalled")
    assert _line(host) == {"ready": True}
    assert host.stdin is not None
    host.stdin.write("before the stall\n")
    host.stdin.flush()
    assert _line(host) == {"ok": 1}

    host.send_signal(signal.SIGSTOP)  # frozen until its 1 s TTL and the probe margin pass
    try:
        pods = open_pod_store(store_url)
        wait_until(lambda: pods.probe("w").stopped, "the frozen host's Worker probing stopped")
        # Another process takes the runtime over, as a supervisor restarting it would.
        successor = open_persistent_runtime(store_url, runtime_id="rt-stalled")
    finally:
        host.send_signal(signal.SIGCONT)
    try:
        host.stdin.write("after the stall\n")
        host.stdin.flush()
        answer = _line(host)
        assert answer["error"] == "lease_lost"  # not a store failure: a 503, never a 500
        assert "lease" in answer["message"]
        transcript = successor.transcript_projection(successor.worker_ref("w"))
        assert [item.content for item in transcript.items] == ["before the stall"]
    finally:
        successor.close()
