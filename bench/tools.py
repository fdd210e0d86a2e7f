"""Tool calls through the memory Runtime against calling the tool function directly, one run.

W Workers (default 200) each run one turn on the echo engine's scripted tool mode: its first
step asks for 10 calls of a trivial tool (registered with ``tools=`` and allowed), the Runtime
checks each call's arguments against the tool's schema, runs it, records the call and its
result (``tool_started``/``tool_finished`` events), and the second step echoes the results. All
inputs are sent at once; the time runs from the first ``send_input`` to the last
``turn_completed``. The same is done with 1 call a turn, so that the marginal cost of a call,
(time with 10 calls - time with 1 call) / (9 W), leaves out what a turn costs anyway. The
baseline calls the same tool function directly with the same (already parsed) arguments and a
context. Both a plain function (the Runtime runs it in a thread of its own) and an ``async``
one (awaited on the turn loop) are measured.

    python bench/tools.py [--workers W] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import time
from collections.abc import Mapping
from typing import Any

from runtime_common import best_of, create_workers, echo_runtime, one_turn_each
from yoi_worker_runtime import WorkerRef
from yoi_worker_runtime.tools.contract import Tool, ToolContext, ToolFunction

CALLS = 10
DIRECT_CALLS = 20_000
SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "maxLength": 100}},
    "required": ["text"],
    "additionalProperties": False,
}


def shout(arguments: Mapping[str, Any], context: ToolContext) -> str:
    return str(arguments["text"]).upper()


async def shout_async(arguments: Mapping[str, Any], context: ToolContext) -> str:
    return str(arguments["text"]).upper()


def scripted(calls: int) -> dict[str, Any]:
    """Echo options whose first step calls the tool ``calls`` times."""
    return {
        "tool_calls": [
            {"name": "shout", "arguments": {"text": f"call {number}"}} for number in range(calls)
        ]
    }


def runtime_turns(run: ToolFunction, workers: int, calls: int) -> float:
    """Seconds for ``workers`` concurrent turns of ``calls`` tool calls each."""
    tool = Tool(name="shout", description="upper-cases its text", parameters=SCHEMA, run=run)
    runtime = echo_runtime({"calls": scripted(calls)}, tools={"shout": tool})
    try:
        refs = create_workers(runtime, workers, "calls", capabilities=["shout"])
        elapsed, reply = one_turn_each(runtime, refs, "go")
    finally:
        runtime.close()
    expected = "\n".join(f"shout: CALL {number}" for number in range(calls))
    assert reply == expected, reply
    return elapsed


def direct_calls(run: ToolFunction, count: int) -> float:
    """Seconds for ``count`` direct calls of the tool function."""
    context = ToolContext(worker_ref=WorkerRef(runtime_id="bench", worker_id="w"), workspace=None)
    arguments = [{"text": f"call {number % CALLS}"} for number in range(count)]

    if inspect.iscoroutinefunction(run):

        async def drive() -> None:
            for item in arguments:
                await run(item, context)

        started = time.perf_counter()
        asyncio.run(drive())
    else:
        started = time.perf_counter()
        for item in arguments:
            run(item, context)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    workers, repeats = args.workers, args.repeats
    print(
        f"tools: {workers} Workers, one turn each of {CALLS} calls of a trivial tool on echo's "
        f"scripted tool mode (best of {repeats})"
    )
    for label, run in (("sync tool", shout), ("async tool", shout_async)):
        best = best_of(
            repeats,
            {
                "ten": functools.partial(runtime_turns, run, workers, CALLS),
                "one": functools.partial(runtime_turns, run, workers, 1),
                "direct": functools.partial(direct_calls, run, DIRECT_CALLS),
            },
        )
        ten, one, direct = best["ten"], best["one"], best["direct"]
        all_in = ten / (workers * CALLS) * 1e6
        marginal = (ten - one) / (workers * (CALLS - 1)) * 1e6
        direct_us = direct / DIRECT_CALLS * 1e6
        print(
            f"  {label}: a {CALLS}-call turn {ten / workers * 1e3:6.2f} ms "
            f"({all_in:6.1f} us a call, the turn's own costs included)"
        )
        print(
            f"  {label}: each further call {marginal:6.1f} us through the Runtime, "
            f"{direct_us:6.2f} us called directly: Runtime overhead {marginal - direct_us:6.1f} us "
            "a call"
        )


if __name__ == "__main__":
    main()
