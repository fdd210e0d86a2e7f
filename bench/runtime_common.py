"""Shared pieces of the Runtime benchmarks (not a benchmark itself): an in-process Runtime on
echo profiles, waiting for turns to end, percentiles, and a REST server as a real process."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rest_common import Running, running, start
from yoi_worker_runtime import (
    CreateWorkerRequest,
    NamedProfile,
    RequestedCapability,
    Runtime,
    RuntimeEvent,
    TaskIntent,
    WorkerInput,
    WorkerRef,
)
from yoi_worker_runtime.profiles import parse_config
from yoi_worker_runtime.runtime import LiveMessage
from yoi_worker_runtime.tools.contract import Tool

__all__ = ["Running", "running", "start"]

TURN_ENDS = ("turn_completed", "turn_failed", "turn_interrupted")


def echo_runtime(
    profiles: Mapping[str, Mapping[str, Any]],
    *,
    tools: Mapping[str, Tool] | None = None,
) -> Runtime:
    """A memory Runtime whose profiles (name -> echo ``options``) all run the echo engine. Its
    tools are exactly ``tools`` (no installed plugin), all of them allowed."""
    config = parse_config(
        {
            "default_profile": next(iter(profiles)),
            "allow_tools": sorted(tools or {}),
            "profiles": {
                name: {"engine": "echo", "options": dict(options)}
                for name, options in profiles.items()
            },
        }
    )
    return Runtime.open(runtime_id="bench", config=config, tools=tools or {})


def create_workers(
    runtime: Runtime, count: int, profile: str, *, capabilities: Sequence[str] = ()
) -> list[WorkerRef]:
    request = CreateWorkerRequest(
        intent=TaskIntent(objective="benchmark"),
        profile=NamedProfile(value=profile),
        requested_capabilities=tuple(RequestedCapability(name=name) for name in capabilities),
    )
    return [runtime.create_worker(request).worker_ref for _ in range(count)]


class TurnEnds:
    """Counts turn end events as the Runtime commits them; ``wait(n)`` blocks until n ended.

    A Runtime listener: it runs under the Runtime's lock, so it only counts and signals.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._lock = threading.Condition()
        self.ended: dict[str, int] = dict.fromkeys(TURN_ENDS, 0)
        self._total = 0
        self.unsubscribe = runtime.subscribe(self._on_message)

    def _on_message(self, message: LiveMessage) -> None:
        if isinstance(message, RuntimeEvent) and message.kind in TURN_ENDS:
            with self._lock:
                self.ended[message.kind] += 1
                self._total += 1
                self._lock.notify_all()

    def wait(self, total: int, timeout: float = 120.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._total >= total, timeout):
                raise SystemExit(f"only {self._total} of {total} turns ended in {timeout:g} s")


def one_turn_each(
    runtime: Runtime, refs: Sequence[WorkerRef], content: str
) -> tuple[float, str | None]:
    """Send one input to each Worker at once (the turns run concurrently on the Runtime's turn
    loop): the seconds from the first ``send_input`` to the last turn's end, and the first
    turn's reply (for checking). Every turn must complete."""
    ends = TurnEnds(runtime)
    gc.collect()
    started = time.perf_counter()
    acks = [runtime.send_input(ref, WorkerInput(kind="user", content=content)) for ref in refs]
    ends.wait(len(refs))
    elapsed = time.perf_counter() - started
    ends.unsubscribe()
    if ends.ended["turn_completed"] != len(refs):
        raise SystemExit(f"turns did not all complete: {ends.ended}")
    first = acks[0]
    assert first.turn_id is not None
    return elapsed, runtime.turn_detail(first.worker_ref, first.turn_id).reply


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` 0.5 is the median)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def best_of(repeats: int, measurements: Mapping[str, Callable[[], float]]) -> dict[str, float]:
    """The smallest of ``repeats`` results of each measurement (the least disturbed one),
    taking them in turns so that every one sees the same changes in the machine's load."""
    best = dict.fromkeys(measurements, float("inf"))
    for _ in range(repeats):
        for name, measure in measurements.items():
            best[name] = min(best[name], measure())
    return best
