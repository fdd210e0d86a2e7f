"""Turns on the memory Runtime with the echo engine: throughput, per-chunk cost, interrupt
latency and memory per idle Worker, each against its baseline in the same run.

1. Throughput: W Workers (default 1,000), one turn each on ``echo`` with 20 chunks, all inputs
   sent at once (the turns run concurrently on the Runtime's turn loop), timed from the first
   ``send_input`` to the last ``turn_completed``. The baseline drives the same echo engine
   directly: the same step requests (task text and input), every delta collected and joined, one
   turn after another in one asyncio loop. The ratio is chunks/s through the Runtime divided by
   chunks/s driving the engine alone (goal: at least 0.5x). The same runs with 1 chunk a turn
   split the cost into a per-turn part and a marginal per-chunk part, for both sides.
2. Interrupt latency: a slow echo turn (1,000 chunks 5 ms apart) is interrupted after its k-th
   delta (k from 1 to 5, seeded), N times (default 200), each on a fresh Worker: from the call
   to ``interrupt_turn`` to the ``turn_interrupted`` event seen by a listener (goal: p99 under
   50 ms), and to ``interrupt_turn`` returning (the engine's stream is closed by then).
3. Memory: M Workers (default 25) each run 100 turns (round by round), then sit idle. Memory
   is what tracemalloc counts as allocated after the turns and a full collection, less what it
   counted before the Workers were created, divided by M (the peak during the run likewise).
   For scale: the text those transcripts hold (inputs and replies, in characters).

    python bench/turns.py [--workers W] [--interrupts N] [--memory-workers M] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import linecache
import random
import threading
import time
import tracemalloc
from pathlib import Path

from runtime_common import (
    TurnEnds,
    best_of,
    create_workers,
    echo_runtime,
    one_turn_each,
    percentile,
)
from yoi_worker_runtime import RuntimeEvent, WorkerInput
from yoi_worker_runtime.engines.contract import (
    AssistantMessage,
    EngineSettings,
    Message,
    StepRequest,
    TextDelta,
)
from yoi_worker_runtime.engines.echo import create_echo
from yoi_worker_runtime.history import task_text
from yoi_worker_runtime.model import TaskIntent, TurnTextDelta
from yoi_worker_runtime.runtime import LiveMessage

GOAL_RATIO = 0.5
GOAL_INTERRUPT_P99_MS = 50.0
CHUNKS = 20
#: 71 characters of reply ("echo: " + the input), so 20 chunks of 3 or 4 characters.
INPUT = "the quick brown fox jumps over the lazy dog, then naps in the sun"
HISTORY_TURNS = 100


def runtime_turns(workers: int, chunks: int) -> float:
    """Seconds for ``workers`` concurrent turns of ``chunks`` chunks through the Runtime."""
    runtime = echo_runtime({"bench": {"chunks": chunks}})
    try:
        refs = create_workers(runtime, workers, "bench")
        elapsed, reply = one_turn_each(runtime, refs, INPUT)
    finally:
        runtime.close()
    assert reply == f"echo: {INPUT}", reply
    return elapsed


def engine_turns(workers: int, chunks: int) -> float:
    """Seconds for the same turns driving the echo engine directly."""
    engine = create_echo(EngineSettings(options={"chunks": chunks}))
    system = Message(role="system", content=task_text(TaskIntent(objective="benchmark")))
    requests = [
        StepRequest(
            worker_id=f"worker-{number}",
            turn_id=f"turn-{number}",
            step=0,
            messages=(system, Message(role="user", content=INPUT)),
        )
        for number in range(workers)
    ]

    async def drive() -> None:
        for request in requests:
            deltas: list[str] = []
            async for event in engine.run_step(request):
                if isinstance(event, TextDelta):
                    deltas.append(event.text)
                elif isinstance(event, AssistantMessage):
                    assert "".join(deltas) == event.text
            assert len(deltas) == min(chunks, len(INPUT) + 6)

    gc.collect()
    started = time.perf_counter()
    asyncio.run(drive())
    return time.perf_counter() - started


def throughput(workers: int, repeats: int) -> None:
    best = best_of(
        repeats,
        {
            "runtime 20": functools.partial(runtime_turns, workers, CHUNKS),
            "engine 20": functools.partial(engine_turns, workers, CHUNKS),
            "runtime 1": functools.partial(runtime_turns, workers, 1),
            "engine 1": functools.partial(engine_turns, workers, 1),
        },
    )
    runtime_20, engine_20 = best["runtime 20"], best["engine 20"]
    runtime_1, engine_1 = best["runtime 1"], best["engine 1"]
    chunks = workers * CHUNKS
    print(
        f"turns: {workers} Workers, one turn each on echo, {CHUNKS} chunks a turn "
        f"(best of {repeats})"
    )
    for label, seconds in (("Runtime", runtime_20), ("engine alone", engine_20)):
        print(
            f"  {label:13} {seconds * 1000:8.1f} ms  {workers / seconds:8.0f} turns/s  "
            f"{chunks / seconds:9.0f} chunks/s"
        )
    ratio = engine_20 / runtime_20
    verdict = "meets" if ratio >= GOAL_RATIO else "MISSES"
    print(
        f"  ratio (chunks/s through the Runtime / chunks/s driving the engine alone): "
        f"{ratio:.3f}x, {verdict} the goal of {GOAL_RATIO}x"
    )
    # Per turn: the 1-chunk time; per extra chunk: the difference spread over 19 chunks a turn.
    extra = workers * (CHUNKS - 1)
    for label, one, twenty in (
        ("Runtime", runtime_1, runtime_20),
        ("engine alone", engine_1, engine_20),
    ):
        print(
            f"  {label:13} {one / workers * 1e6:7.1f} us a 1-chunk turn, "
            f"{(twenty - one) / extra * 1e6:5.2f} us each further chunk"
        )
    print(
        f"  Runtime's own cost: {(runtime_1 - engine_1) / workers * 1e6:.1f} us a turn, "
        f"{((runtime_20 - runtime_1) - (engine_20 - engine_1)) / extra * 1e6:.2f} us a chunk"
    )


def interrupt_latency(count: int, seed: int) -> None:
    slow = {"chunks": 1000, "chunk_delay_ms": 5}
    runtime = echo_runtime({"slow": slow})
    chooser = random.Random(seed)
    to_event: list[float] = []
    to_return: list[float] = []
    try:
        refs = create_workers(runtime, count, "slow")
        # The listener notes when the k-th delta of the watched turn arrives, and when the
        # watched turn's turn_interrupted event commits.
        watched: dict[str, object] = {}
        delta_seen = threading.Event()
        interrupted_at: list[float] = []

        def listen(message: LiveMessage) -> None:
            if isinstance(message, TurnTextDelta):
                if message.turn_id == watched["turn"] and message.index + 1 == watched["k"]:
                    delta_seen.set()
            elif (
                isinstance(message, RuntimeEvent)
                and message.kind == "turn_interrupted"
                and message.turn_id == watched["turn"]
            ):
                interrupted_at.append(time.perf_counter())

        unsubscribe = runtime.subscribe(listen)
        long_input = "x" * 2000  # long enough for 1,000 chunks
        for ref in refs:
            delta_seen.clear()
            interrupted_at.clear()
            watched["k"] = chooser.randint(1, 5)
            watched["turn"] = None
            ack = runtime.send_input(ref, WorkerInput(kind="user", content=long_input))
            watched["turn"] = ack.turn_id
            if not delta_seen.wait(10):
                raise SystemExit("the slow turn sent no delta in 10 s")
            requested = time.perf_counter()
            result = runtime.interrupt_turn(ref)
            returned = time.perf_counter()
            assert result.changed and result.turn_id == ack.turn_id
            assert len(interrupted_at) == 1, "the listener saw no turn_interrupted"
            to_event.append(interrupted_at[0] - requested)
            to_return.append(returned - requested)
        unsubscribe()
    finally:
        runtime.close()
    print(
        f"interrupt: {count} interrupts of a slow echo turn (1,000 chunks 5 ms apart), "
        "each after its 1st to 5th delta"
    )
    for label, samples in (
        ("to turn_interrupted seen by a listener", to_event),
        ("to interrupt_turn returning (stream closed)", to_return),
    ):
        print(
            f"  {label:44} p50 {percentile(samples, 0.5) * 1000:6.2f} ms  "
            f"p99 {percentile(samples, 0.99) * 1000:6.2f} ms  "
            f"max {max(samples) * 1000:6.2f} ms"
        )
    p99 = percentile(to_event, 0.99) * 1000
    verdict = "meets" if p99 < GOAL_INTERRUPT_P99_MS else "MISSES"
    print(f"  p99 {p99:.2f} ms {verdict} the goal of under {GOAL_INTERRUPT_P99_MS:.0f} ms")


def memory(workers: int) -> None:
    # One chunk a turn: deltas are never kept, so their number does not change what is held.
    runtime = echo_runtime({"bench": {"chunks": 1}})
    try:
        gc.collect()
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        refs = create_workers(runtime, workers, "bench")
        ends = TurnEnds(runtime)
        started = time.perf_counter()
        for turn in range(HISTORY_TURNS):
            for ref in refs:
                runtime.send_input(ref, WorkerInput(kind="user", content=f"{INPUT} {turn}"))
            ends.wait(workers * (turn + 1))
        elapsed = time.perf_counter() - started
        ends.unsubscribe()
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        assert ends.ended["turn_completed"] == workers * HISTORY_TURNS, ends.ended
        page = runtime.transcript_projection(refs[0], start=0, limit=256)
        text = sum(len(entry.content) for entry in page.items)
        assert page.total_items == 2 * HISTORY_TURNS
        summary = runtime.summary()
    finally:
        runtime.close()
    per_worker = (after - before) / workers
    print(
        f"memory: {workers} idle Workers with a {HISTORY_TURNS}-turn history each "
        f"({summary.last_event_id} events in the log; traced run {elapsed:.1f} s)"
    )
    print(
        f"  tracemalloc, retained after the turns: {per_worker / 1024:7.1f} KiB a Worker "
        f"({per_worker / HISTORY_TURNS:5.0f} B a turn); peak {(peak - before) / workers / 1024:.1f}"
        " KiB a Worker"
    )
    print(f"  for scale: the transcript text is {text / 1024:.1f} KiB a Worker (200 entries)")
    print("  largest allocation sites still held:")
    for stat in snapshot.statistics("lineno")[:6]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        code = linecache.getline(frame.filename, frame.lineno).strip()
        print(f"    {stat.size / workers / 1024:6.1f} KiB a Worker  {where:20} {code[:60]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--interrupts", type=int, default=200)
    parser.add_argument("--memory-workers", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    throughput(args.workers, args.repeats)
    interrupt_latency(args.interrupts, args.seed)
    memory(args.memory_workers)


if __name__ == "__main__":
    main()
