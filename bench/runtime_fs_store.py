"""fs-store Runtime: ``send_input`` against session-store ``append`` of the same entries alone.

The Runtime run opens a store-backed Runtime on a fresh ``fs`` data dir, creates a few Workers
and sends N inputs round robin; each input writes one transcript entry and one event-log commit.
The baseline, in the same run, reads back exactly the entries that run wrote (per input: the
transcript entry and the commit entry) and appends them with the session store alone, on a
second fresh data dir. Both use the stores' default fsync policy (every append fdatasync'ed).
The ratio is baseline time / Runtime time (1.0: no overhead; the goal is at least 0.5).

    python bench/runtime_fs_store.py [--inputs N] [--workers W] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from yoi_pod_store.plugins import open_pod_store
from yoi_session_store.ids import SegmentId, SessionId
from yoi_session_store.model import Entry
from yoi_session_store.plugins import open_session_store
from yoi_worker_runtime import (
    CreateWorkerRequest,
    RuntimeDefaultProfile,
    TaskIntent,
    WorkerInput,
    open_persistent_runtime,
)

Log = tuple[SessionId, SegmentId, list[Entry]]


def run_runtime(data: Path, inputs: int, workers: int) -> tuple[float, list[Log]]:
    url = f"fs://{data}"
    runtime = open_persistent_runtime(url, runtime_id="bench")
    refs = [
        runtime.create_worker(
            CreateWorkerRequest(
                name=f"w{number}",
                intent=TaskIntent(objective="bench"),
                profile=RuntimeDefaultProfile(),
            )
        ).worker_ref
        for number in range(workers)
    ]
    started = time.perf_counter()
    for number in range(inputs):
        runtime.send_input(refs[number % workers], WorkerInput(kind="user", content=f"in {number}"))
    elapsed = time.perf_counter() - started
    runtime.close()
    pods = open_pod_store(url)
    sessions = open_session_store(url)
    logs: list[Log] = []
    record = pods.read_runtime("bench")
    assert record is not None and record.events_session_id is not None
    events = SessionId(record.events_session_id)
    (segment,) = sessions.list_segments(events)
    logs.append((events, segment.segment_id, sessions.read_all(events, segment.segment_id)))
    for ref in refs:
        pod = pods.read(ref.worker_id)
        assert pod is not None and pod.active is not None and pod.active.segment_id is not None
        session, seg = SessionId(pod.active.session_id), SegmentId(pod.active.segment_id)
        logs.append((session, seg, sessions.read_all(session, seg)))
    return elapsed, logs


def run_baseline(data: Path, logs: list[Log], workers: int) -> float:
    """Append the same entries in the same order: per input, transcript entry then commit."""
    sessions = open_session_store(f"fs://{data}")
    events_session, events_segment, events = logs[0]
    # what existed before the first input: every segment up to the Workers' creation
    first_input = len(events) - sum(len(entries) - 1 for _, _, entries in logs[1:])
    sessions.create_segment(events_session, events_segment, events[:first_input])
    for session, segment, entries in logs[1:]:
        sessions.create_segment(session, segment, entries[:1])
    transcripts = logs[1:]
    started = time.perf_counter()
    for number, commit in enumerate(events[first_input:]):
        session, segment, entries = transcripts[number % workers]
        sessions.append(session, segment, entries[1 + number // workers])
        sessions.append(events_session, events_segment, commit)
    elapsed = time.perf_counter() - started
    sessions.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 inputs")
    args = parser.parse_args()
    inputs = 300 if args.quick else args.inputs
    with tempfile.TemporaryDirectory(prefix="yoi-bench-") as tmp:
        root = Path(tmp)
        os.environ["YOI_RUNTIME_DIR"] = str(root / "run")
        runtime_time, logs = run_runtime(root / "runtime", inputs, args.workers)
        baseline_time = run_baseline(root / "baseline", logs, args.workers)
    print(f"{inputs} inputs over {args.workers} Workers, fs backends, default fsync (always)")
    print(
        f"  Runtime send_input (fs-store): {runtime_time:8.3f} s "
        f"{inputs / runtime_time:10.0f} inputs/s"
    )
    print(
        f"  session-store append, same entries: {baseline_time:8.3f} s "
        f"{inputs / baseline_time:10.0f} inputs/s ({2 * inputs} appends)"
    )
    print(
        f"  ratio (baseline time / Runtime time): {baseline_time / runtime_time:.2f}x "
        "(goal >= 0.5x)"
    )


if __name__ == "__main__":
    main()
