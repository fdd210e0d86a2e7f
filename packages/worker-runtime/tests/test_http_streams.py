"""Server-Sent Event streams against a real server: resumable, bounded, and quick to shut down."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_server import ServerProcess, raw, running_server
from sse_support import SseReader
from yoi_worker_runtime import (
    AssistantIntent,
    CreateWorkerRequest,
    NamedProfile,
)
from yoi_worker_runtime.client import RuntimeClient, StreamNote
from yoi_worker_runtime.model import RuntimeEvent

pytestmark = pytest.mark.feature("http-server")

#: Replay a failing run of the random disconnects with YOI_TEST_SEED=<seed>.
SEED = 20261129

CONFIG = """
[profiles.chunky]
engine = "echo"
options = { chunks = 8, chunk_delay_ms = 2 }

[profiles.flood]
engine = "echo"
options = { chunks = 400 }

[profiles.deluge]
engine = "echo"
options = { chunks = 2000 }
"""


def start(tmp_path: Path, *flags: str) -> Iterator[ServerProcess]:
    config = tmp_path / "yoi.toml"
    config.write_text(CONFIG)
    with running_server(
        "--config", str(config), "--stream-heartbeat", "1", *flags, env=_env(tmp_path)
    ) as server:
        yield server


def _env(tmp_path: Path) -> dict[str, str]:
    return {"YOI_RUNTIME_DIR": str(tmp_path / "run")}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from start(tmp_path, "--store", "memory")


def worker(client: RuntimeClient, name: str, profile: str = "chunky") -> None:
    client.create_worker(
        CreateWorkerRequest(
            name=name, intent=AssistantIntent(), profile=NamedProfile(value=profile)
        )
    )


def ends(turn_id: str) -> object:
    return lambda frame: frame.event == "turn_completed" and frame.data["turn_id"] == turn_id


def test_the_deltas_of_a_turn_join_into_its_recorded_reply(server: ServerProcess) -> None:
    with server.client() as client:
        worker(client, "w")
        stream = SseReader(server.url, "/v1/workers/w/stream")
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.next_frame().comment == "connected"
        turn_id = client.send_input("w", "tell me something long").turn_id or ""
        frames = stream.frames_until(ends(turn_id))
        stream.close()
        reply = client.turn("w", turn_id).reply
    deltas = [frame for frame in frames if frame.event == "text_delta"]
    assert [frame.data["index"] for frame in deltas] == list(range(8))
    assert all(frame.id is None and frame.data["turn_id"] == turn_id for frame in deltas)
    assert "".join(frame.data["text"] for frame in deltas) == reply
    durable = [frame for frame in frames if frame.event != "text_delta"]
    assert [frame.event for frame in durable] == [
        "worker_input_accepted",
        "turn_started",
        "turn_completed",
    ]
    assert all(frame.id == frame.data["id"] for frame in durable)


def test_bad_cursors_are_refused_before_the_stream_starts(server: ServerProcess) -> None:
    for path, headers in (
        ("/v1/events/stream?after=abc", {}),
        ("/v1/events/stream?after=999", {}),
        ("/v1/events/stream", {"Last-Event-ID": "-1"}),
    ):
        answer = raw(server.url, "GET", path, headers=headers)
        assert (answer.status, answer.code) == (400, "invalid_cursor")
    assert raw(server.url, "GET", "/v1/workers/nobody/stream").status == 404


def test_an_idle_stream_gets_heartbeats(server: ServerProcess) -> None:
    stream = SseReader(server.url, "/v1/events/stream")
    comments = [stream.next_frame(timeout=5).comment for _ in range(3)]
    stream.close()
    assert comments == ["connected", "heartbeat", "heartbeat"]


def test_disconnects_and_resumes_under_load_miss_and_repeat_nothing(
    server: ServerProcess,
) -> None:
    seed = int(__import__("os").environ.get("YOI_TEST_SEED", SEED))
    chance = random.Random(seed)
    with server.client() as client:
        for index in range(8):
            worker(client, f"w{index}")
    received: list[int] = []
    last = 0
    done = threading.Event()

    def load() -> None:
        with RuntimeClient(server.url) as client:
            acks = [client.send_input(f"w{index % 8}", f"input {index}") for index in range(32)]
            for ack in acks:
                client.wait_for_turn(ack.worker_ref.worker_id, ack.turn_id or "", 30)
        done.set()

    loader = threading.Thread(target=load)
    loader.start()
    while True:
        stream = SseReader(server.url, f"/v1/events/stream?after={last}")
        budget = chance.randint(1, 40)
        try:
            while budget:
                frame = stream.next_frame(timeout=2)
                if frame.id is not None:
                    received.append(frame.id)
                    last = frame.id
                budget -= 1
        except TimeoutError:
            pass
        stream.close()
        if (
            done.is_set()
            and last == raw(server.url, "GET", "/v1/runtime").body["runtime"]["last_event_id"]
        ):
            break
    loader.join()
    everything = [event.id for event in RuntimeClient(server.url).events("start", 256).events]
    assert received == everything[: len(received)] and received[-1] == everything[-1], (
        f"replay with YOI_TEST_SEED={seed}"
    )
    assert received == list(range(1, len(received) + 1)), f"replay with YOI_TEST_SEED={seed}"


@pytest.mark.feature("fs-store")
def test_a_resume_after_a_restart_replays_from_the_store(tmp_path: Path) -> None:
    flags = ("--store", f"fs://{tmp_path / 'data'}", "--runtime-id", "rt-sse")
    for server in start(tmp_path, *flags):
        with server.client() as client:
            worker(client, "w")
            turn = client.send_input("w", "remember me").turn_id or ""
            client.wait_for_turn("w", turn, 10)
    for server in start(tmp_path, *flags):
        stream = SseReader(server.url, "/v1/events/stream", headers={"Last-Event-ID": "1"})
        frames = stream.frames_until(lambda frame: frame.event == "turn_completed")
        stream.close()
    assert [frame.id for frame in frames] == list(range(2, 2 + len(frames)))
    assert frames[0].event == "worker_created"


@pytest.mark.feature("fs-store")
def test_the_client_stream_reconnects_across_a_server_restart(tmp_path: Path) -> None:
    flags = ("--store", f"fs://{tmp_path / 'data'}", "--runtime-id", "rt-sse", "--bind")
    servers = start(tmp_path, *flags, "127.0.0.1:0")
    first = next(servers)
    port = first.url.rsplit(":", 1)[1]
    with first.client() as client:
        worker(client, "w")
    seen: list[object] = []
    client = RuntimeClient(first.url)
    stream = client.stream_worker("w", after=0)
    seen.append(next(stream))  # worker_created
    assert first.stop() == 0
    with (
        running_server(
            "--config",
            str(tmp_path / "yoi.toml"),
            "--store",
            f"fs://{tmp_path / 'data'}",
            "--runtime-id",
            "rt-sse",
            "--bind",
            f"127.0.0.1:{port}",
            env=_env(tmp_path),
        ) as second,
        second.client() as again,
    ):
        turn = again.send_input("w", "after the restart").turn_id
        for message in stream:
            seen.append(message)
            if isinstance(message, RuntimeEvent) and message.kind == "turn_completed":
                break
    kinds = [
        message.kind if isinstance(message, RuntimeEvent | StreamNote) else "delta"
        for message in seen
    ]
    # It saw the first server go, reconnected on its own and replayed what it missed while
    # away (the turn ran before it was back), each durable event once and in order.
    assert kinds[:2] == ["worker_created", "shutdown"]
    events = [message for message in seen if isinstance(message, RuntimeEvent)]
    assert [event.id for event in events] == sorted({event.id for event in events})
    assert [event.kind for event in events][-3:] == [
        "worker_input_accepted",
        "turn_started",
        "turn_completed",
    ]
    assert events[-1].turn_id == turn


def test_a_stalled_reader_loses_deltas_first_and_slows_nobody(server: ServerProcess) -> None:
    pid = server.process.pid
    with server.client() as client:
        # More deltas than the connection's buffers hold (about 6 MB against 4 MB), so the
        # stream's own buffer fills: deltas must go first.
        worker(client, "flood", "deluge")
        stalled = SseReader(server.url, "/v1/events/stream", receive_buffer=4096)
        live = SseReader(server.url, "/v1/events/stream")
        rss_before = _rss_kib(pid)
        turns = [client.send_input("flood", "x" * 8000).turn_id or "" for _ in range(20)]
        for turn_id in turns:  # the live reader gets every turn as it ends, in time
            live.frames_until(ends(turn_id), timeout=60)
        growth = _rss_kib(pid) - rss_before
    live.close()
    # Now read what the stalled reader was sent: every durable event, some deltas dropped.
    frames = stalled.frames_until(ends(turns[-1]), timeout=60)
    stalled.close()
    dropped = sum(frame.data["count"] for frame in frames if frame.event == "deltas_dropped")
    assert dropped > 0, "the stalled reader was not told of dropped deltas"
    durable = [frame.id for frame in frames if frame.id is not None]
    assert durable == list(range(durable[0], durable[0] + len(durable)))
    assert growth < 64 * 1024, f"the server grew by {growth} KiB with one stalled reader"


def test_1000_open_streams_each_get_every_event_and_sigterm_still_exits_within_2_seconds(
    server: ServerProcess,
) -> None:
    pid = server.process.pid
    rss_before = _rss_kib(pid)
    streams = [SseReader(server.url, "/v1/events/stream") for _ in range(1000)]
    for stream in streams:
        assert stream.next_frame().comment == "connected"
    with server.client() as client:
        worker(client, "w")
        turn = client.send_input("w", "to everyone").turn_id or ""
        client.wait_for_turn("w", turn, 30)
    for stream in streams:  # every stream gets the whole turn, deltas included
        frames = stream.frames_until(ends(turn), timeout=30)
        assert sum(frame.event == "text_delta" for frame in frames) == 8
    growth = _rss_kib(pid) - rss_before
    assert growth < 200 * 1024, f"1000 streams cost the server {growth} KiB"
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=10) == 0
    took = time.monotonic() - started
    shutdowns = 0
    for stream in streams:
        try:
            frames = stream.frames_until(lambda frame: frame.event == "shutdown", timeout=2)
            shutdowns += frames[-1].event == "shutdown"
        except (TimeoutError, EOFError):
            pass
        stream.close()
    assert took < 2.0, f"the server took {took:.2f} s to exit"
    assert shutdowns == 1000


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
