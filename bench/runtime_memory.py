"""Memory Runtime: create N Workers and send each one input; rate and peak memory.

Baseline, in the same run: N plain dicts for the Workers, one list append each for the input and
the event, which is the least any in-memory bookkeeping of the same facts can cost. Time is
measured without tracing; peak memory in a second, traced pass (tracemalloc).

    python bench/runtime_memory.py [--workers N]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable

from yoi_worker_runtime import (
    CreateWorkerRequest,
    Runtime,
    RuntimeDefaultProfile,
    TaskIntent,
    WorkerInput,
)


def run_runtime(count: int) -> object:
    runtime = Runtime.open(runtime_id="bench")
    request = CreateWorkerRequest(
        intent=TaskIntent(objective="bench"), profile=RuntimeDefaultProfile()
    )
    for number in range(count):
        ref = runtime.create_worker(request).worker_ref
        runtime.send_input(ref, WorkerInput(kind="user", content=f"input {number}"))
    assert runtime.summary().last_event_id == 1 + 2 * count
    return runtime


def run_baseline(count: int) -> object:
    workers: dict[str, dict[str, object]] = {}
    events: list[dict[str, object]] = []
    for number in range(count):
        worker_id = f"worker-{number:032x}"
        worker: dict[str, object] = {
            "worker_id": worker_id,
            "status": "running",
            "intent": {"kind": "task", "objective": "bench"},
            "transcript": [],
        }
        workers[worker_id] = worker
        events.append({"id": len(events) + 1, "kind": "worker_created", "worker_id": worker_id})
        transcript = worker["transcript"]
        assert isinstance(transcript, list)
        transcript.append({"sequence": 1, "role": "user", "content": f"input {number}"})
        accepted = {"id": len(events) + 1, "kind": "worker_input_accepted", "worker_id": worker_id}
        events.append(accepted)
    return workers, events


def timed(function: Callable[[int], object], count: int, repeats: int) -> float:
    """Best wall time of ``repeats`` runs (the least disturbed one)."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = function(count)
        best = min(best, time.perf_counter() - started)
        del result
    return best


def peak_bytes(function: Callable[[int], object], count: int) -> int:
    gc.collect()
    tracemalloc.start()
    result = function(count)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    count: int = args.workers

    runtime_seconds = timed(run_runtime, count, args.repeats)
    baseline_seconds = timed(run_baseline, count, args.repeats)
    runtime_peak = peak_bytes(run_runtime, count)
    baseline_peak = peak_bytes(run_baseline, count)

    operations = 2 * count  # one create and one input per Worker
    print(f"memory Runtime, {count} workers created + one input each")
    for label, seconds, peak in (
        ("runtime ", runtime_seconds, runtime_peak),
        ("baseline", baseline_seconds, baseline_peak),
    ):
        print(
            f"  {label}: {seconds * 1000:8.1f} ms  {operations / seconds:10.0f} ops/s  "
            f"peak {peak / 2**20:7.1f} MiB ({peak / count:6.0f} B/worker)"
        )
    print(
        f"  ratio (baseline/runtime): speed {baseline_seconds / runtime_seconds:.3f}x, "
        f"memory {baseline_peak / runtime_peak:.3f}x"
    )


if __name__ == "__main__":
    main()
