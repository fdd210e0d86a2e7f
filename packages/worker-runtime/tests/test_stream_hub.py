"""The stream hub on its own: what a stream does when its reader falls behind.

Driven in-process, so the reader is exactly as slow as the test says (over a socket, how much
the kernel buffers first depends on the machine).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from yoi_worker_runtime import (
    AssistantIntent,
    BuiltinProfile,
    CreateWorkerRequest,
    Runtime,
    WorkerInput,
)
from yoi_worker_runtime.profiles import parse_config

pytestmark = pytest.mark.feature("http-server")


def frames(chunks: list[bytes]) -> list[tuple[str | None, Any]]:
    """(event, data) of each frame; comments as (None, None)."""
    found: list[tuple[str | None, Any]] = []
    for chunk in chunks:
        text = chunk.decode()
        if text.startswith(":"):
            found.append((None, None))
            continue
        fields = dict(line.split(": ", 1) for line in text.strip().split("\n"))
        found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_a_stream_that_cannot_hold_its_durable_events_ends_as_lagged() -> None:
    from yoi_worker_runtime.http_server.streams import StreamHub

    runtime = Runtime.open(config=parse_config({}))
    ref = runtime.create_worker(
        CreateWorkerRequest(intent=AssistantIntent(), profile=BuiltinProfile(value="none"))
    ).worker_ref
    start = runtime.summary().last_event_id

    async def read() -> list[bytes]:
        hub = StreamHub(runtime, capacity=16)
        stream = hub.stream(None, start, heartbeat=5)
        got = [await anext(stream)]  # ": connected": the stream is registered
        waiting = asyncio.ensure_future(anext(stream))  # past its replay, waiting for news
        await asyncio.sleep(0)  # one turn of the loop: let it get there
        for index in range(40):  # the reader does not read while 40 events commit
            runtime.send_input(ref, WorkerInput(kind="user", content=f"note {index}"))
        got.append(await waiting)
        async for chunk in stream:
            got.append(chunk)
        return got

    received = frames(asyncio.run(read()))
    runtime.close()
    events = [data for kind, data in received if kind == "worker_input_accepted"]
    assert received[-1][0] == "lagged"
    lagged = received[-1][1]
    assert lagged is not None
    ids = [event["id"] for event in events]
    assert ids == list(range(start + 1, start + 1 + len(ids)))  # in order, none skipped
    assert lagged["last_event_id"] == ids[-1]  # resume from there: nothing is lost
    assert len(ids) == 16  # what the buffer held


def test_deltas_make_room_for_durable_events_and_the_reader_is_told() -> None:
    from yoi_worker_runtime.http_server.streams import StreamHub

    config = parse_config({"profiles": {"wordy": {"engine": "echo", "options": {"chunks": 50}}}})
    runtime = Runtime.open(config=config)
    from yoi_worker_runtime import NamedProfile

    ref = runtime.create_worker(
        CreateWorkerRequest(intent=AssistantIntent(), profile=NamedProfile(value="wordy"))
    ).worker_ref
    start = runtime.summary().last_event_id

    async def read() -> list[bytes]:
        hub = StreamHub(runtime, capacity=16)
        stream = hub.stream(None, start, heartbeat=0.2)
        got = [await anext(stream)]
        waiting = asyncio.ensure_future(anext(stream))  # past its replay, waiting for news
        await asyncio.sleep(0)
        ack = runtime.send_input(ref, WorkerInput(kind="user", content="x" * 200))
        assert ack.turn_id is not None
        await asyncio.to_thread(runtime.wait_for_turn, ref, ack.turn_id, 10)
        got.append(await waiting)
        while not got[-1].startswith(b": heartbeat"):  # all that was buffered, then quiet
            got.append(await anext(stream))
        return got

    received = frames(asyncio.run(read()))
    runtime.close()
    kinds = [kind for kind, _ in received if kind is not None]
    assert kinds[0] == "worker_input_accepted" and kinds[-1] == "turn_completed"
    assert "turn_started" in kinds and "lagged" not in kinds
    dropped = sum(
        data["count"] for kind, data in received if kind == "deltas_dropped" and data is not None
    )
    deltas = kinds.count("text_delta")
    assert dropped > 0 and deltas + dropped == 50
