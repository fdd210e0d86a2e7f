"""Runtimes sharing a store, in process: a lost lease fences the Runtime, Workers are adopted
with their turns accounted for, and a Runtime sends clients to the one hosting a Worker.
(Real processes on a real PostgreSQL: store-postgres' test_failover.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from recording_persistence import RecordingPersistence
from turn_support import WAIT, GatedEngine, Recorder, event_is, providers_with
from yoi_worker_runtime import (
    AdoptionPolicy,
    BuiltinProfile,
    CreateWorkerRequest,
    InvalidRequest,
    LeaseLost,
    NamedProfile,
    RestoredWorker,
    Runtime,
    RuntimeEvent,
    TaskIntent,
    WorkerHostedElsewhere,
    WorkerInput,
    WorkerLocation,
    WorkerNotFound,
    WorkerOrphaned,
)
from yoi_worker_runtime.adoption import Adopter
from yoi_worker_runtime.persistence import RestoredTurn
from yoi_worker_runtime.profiles import parse_config

CONFIG = parse_config({"profiles": {"record": {"engine": "none"}}})
GATED_CONFIG = parse_config({"profiles": {"gated": {"engine": "gated"}}})


def request(name: str, profile: str = "record") -> CreateWorkerRequest:
    return CreateWorkerRequest(
        name=name, intent=TaskIntent(objective=name), profile=NamedProfile(value=profile)
    )


def say(runtime: Runtime, name: str, text: str) -> str | None:
    return runtime.send_input(
        runtime.worker_ref(name), WorkerInput(kind="user", content=text)
    ).turn_id


# --- a lost lease -----------------------------------------------------------------------------


def test_a_lost_lease_fences_the_runtime_stops_its_engines_and_writes_nothing() -> None:
    gated = GatedEngine()
    store = RecordingPersistence()
    runtime = Runtime.open(
        runtime_id="rt",
        persistence=store,
        config=GATED_CONFIG,
        engine_providers=providers_with(gated=gated),
    )
    runtime.create_worker(request("w", "gated"))
    turn_id = say(runtime, "w", "think")
    assert turn_id is not None and gated.started.wait(WAIT)
    heard: list[str] = []
    runtime.on_lease_lost(heard.append)
    writes_before = list(store.calls)

    store.lose_lease("it expired before it was renewed")

    assert heard == ["it expired before it was renewed"]
    assert gated.closed.wait(WAIT), "the running turn's engine was not stopped"
    ref = runtime.worker_ref("w")
    for call in (
        lambda: runtime.send_input(ref, WorkerInput(kind="user", content="more")),
        lambda: runtime.create_worker(request("v", "gated")),
        lambda: runtime.stop_worker(ref),
        lambda: runtime.worker_detail(ref),
        lambda: runtime.transcript_projection(ref),
        lambda: runtime.list_workers(),
        lambda: runtime.read_events(runtime.event_cursor_from_start()),
        lambda: runtime.wait_for_turn(ref, turn_id, 0),
    ):
        with pytest.raises(LeaseLost, match="lost its hosting lease") as caught:
            call()
        assert caught.value.code == "lease_lost"
    assert runtime.lease_lost_reason == "it expired before it was renewed"
    assert [d.code for d in runtime.diagnostics()][-1] == "runtime.lease_lost"
    late: list[str] = []
    runtime.on_lease_lost(late.append)  # after the fact: told at once
    assert late == heard
    runtime.close()
    # Nothing was written after the loss, not even the turn's end or a close's bookkeeping.
    assert store.calls == [*writes_before, "close"]


# --- adoption ---------------------------------------------------------------------------------


def left_behind(turns: tuple[RestoredTurn, ...] = ()) -> RestoredWorker:
    """A Worker as its dead host left it: two inputs, a completed turn, and the given turns."""
    host = RecordingPersistence()
    with Runtime.open(runtime_id="rt-dead", persistence=host, config=CONFIG) as runtime:
        runtime.create_worker(request("w"))
        say(runtime, "w", "one")
        say(runtime, "w", "two")
    return RestoredWorker(
        worker=host.workers["w"],
        transcript=tuple(host.transcripts["w"]),
        turns=turns,
        former_host="rt-dead",
    )


def test_adopting_records_the_former_hosts_unended_turns_as_interrupted() -> None:
    store = RecordingPersistence()
    store.kept["w"] = left_behind(
        (
            RestoredTurn(turn_id="t-done", phase="completed"),
            RestoredTurn(turn_id="t-running", phase="running"),
            RestoredTurn(turn_id="t-queued", phase="queued"),
        )
    )
    runtime = Runtime.open(runtime_id="rt-new", persistence=store, config=CONFIG)
    recorder = Recorder(runtime)
    detail = runtime.adopt_worker("w")
    assert detail is not None and detail.worker_ref == runtime.worker_ref("w")
    assert detail.status == "running" and detail.transcript_len == 2
    adopted = recorder.wait_for(event_is("worker_adopted"))
    assert isinstance(adopted, RuntimeEvent)
    assert adopted.message == "worker w adopted from runtime rt-dead, whose lease lapsed"
    ref = runtime.worker_ref("w")
    assert runtime.turn_detail(ref, "t-done").phase == "completed"
    for turn_id in ("t-running", "t-queued"):
        turn = runtime.turn_detail(ref, turn_id)
        assert (turn.phase, turn.reason) == ("interrupted", "host_lost")
    ended = [e.turn_id for e in recorder.events() if e.kind == "turn_interrupted"]
    assert ended == ["t-running", "t-queued"]
    assert runtime.worker_detail(ref).turn.state == "idle"
    assert runtime.adopt_worker("w") is None  # hosted here already
    with pytest.raises(WorkerNotFound):
        runtime.adopt_worker("nobody")  # the store keeps nothing under that name
    runtime.close()


def test_an_adopting_runtime_takes_over_every_orphan_the_store_offers() -> None:
    store = RecordingPersistence()
    for name in ("a", "b", "c"):
        kept = left_behind()
        store.kept[name] = RestoredWorker(
            worker=kept.worker, transcript=kept.transcript, former_host="rt-dead"
        )
    store.orphaned = ["a", "b", "c"]
    runtime = Runtime.open(
        runtime_id="rt-new",
        persistence=store,
        config=CONFIG,
        adoption=AdoptionPolicy(interval=0.05, rate=1000),
    )
    cursor = runtime.event_cursor_from_start()
    adopted: list[str] = []
    while len(adopted) < 3:
        batch = runtime.wait_for_events(cursor, WAIT)
        assert batch.events, "the adopter took over nothing"
        adopted += [
            e.worker_ref.worker_id
            for e in batch.events
            if e.kind == "worker_adopted" and e.worker_ref
        ]
        cursor = batch.cursor
    assert adopted == ["a", "b", "c"]
    assert [w.worker_id for w in runtime.list_workers()] == ["a", "b", "c"]
    runtime.close()


def test_adoption_is_paced_by_its_rate() -> None:
    class Host:
        runtime_id = "rt"

        def __init__(self) -> None:
            self.adopted: list[str] = []

        def orphans(self) -> list[str]:
            return ["a", "b", "c"]

        def adopt_worker(self, worker_id: str) -> object:
            self.adopted.append(worker_id)
            return worker_id

    host = Host()
    pauses: list[float] = []

    def pause(seconds: float) -> bool:
        pauses.append(seconds)
        return False  # go on

    adopter = Adopter(host, AdoptionPolicy(rate=4))
    assert adopter.scan(pause=pause) == ["a", "b", "c"]
    assert pauses == [0.25, 0.25]  # one pause between adoptions: at most 4 per second
    assert adopter.scan(pause=lambda seconds: True) == ["a"]  # stopping gives up at a pause


@pytest.mark.parametrize("field", ["interval", "rate"])
@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_an_adoption_policy_needs_positive_finite_numbers(field: str, value: float) -> None:
    with pytest.raises(InvalidRequest, match=field):
        AdoptionPolicy(**{field: value})


# --- a Worker hosted elsewhere ----------------------------------------------------------------


def test_a_worker_the_store_places_elsewhere_gets_a_precise_error() -> None:
    store = RecordingPersistence()
    store.locations["moved"] = WorkerLocation(
        runtime_id="rt-b", url="http://10.0.0.2:8080", live=True, reason="fresh lease"
    )
    store.locations["lost"] = WorkerLocation(
        runtime_id="rt-c", url=None, live=False, reason="its lease expired 9.0 s ago"
    )
    runtime = Runtime.open(runtime_id="rt-a", persistence=store)
    moved = runtime.missing_worker_error("moved")
    assert type(moved) is WorkerHostedElsewhere
    assert moved.to_json() == {
        "code": "worker_hosted_elsewhere",
        "message": "worker moved is not hosted by runtime rt-a but by runtime rt-b at "
        "http://10.0.0.2:8080",
        "hosting_runtime_id": "rt-b",
        "hosting_url": "http://10.0.0.2:8080",
    }
    lost = runtime.missing_worker_error("lost")
    assert type(lost) is WorkerOrphaned and lost.code == "worker_orphaned"
    assert "its lease expired 9.0 s ago" in lost.message and "--adopt" in lost.message
    assert type(runtime.missing_worker_error("ghost")) is WorkerNotFound
    runtime.close()


@pytest.fixture
def two_servers() -> Iterator[tuple[str, str, RecordingPersistence]]:
    """Runtime rt-a, whose store places Worker w on rt-b, and rt-b hosting w."""
    from app_server import serving_app
    from yoi_worker_runtime.http_server import create_app

    store = RecordingPersistence()
    with (
        Runtime.open(runtime_id="rt-a", persistence=store) as a,
        Runtime.open(runtime_id="rt-b", config=CONFIG) as b,
        serving_app(create_app(a)) as a_url,
        serving_app(create_app(b)) as b_url,
    ):
        b.create_worker(request("w"))
        store.locations["w"] = WorkerLocation(
            runtime_id="rt-b", url=b_url, live=True, reason="fresh lease"
        )
        yield a_url, b_url, store


@pytest.mark.feature("http-server")
def test_clients_learn_where_a_worker_lives_and_can_follow_it(
    two_servers: tuple[str, str, RecordingPersistence],
) -> None:
    from rest_server import raw
    from yoi_worker_runtime.client import RuntimeClient

    a_url, b_url, store = two_servers
    answer = raw(a_url, "GET", "/v1/workers/w")
    assert answer.status == 404
    error = answer.body["error"]
    assert (error["code"], error["hosting_runtime_id"], error["hosting_url"]) == (
        "worker_hosted_elsewhere",
        "rt-b",
        b_url,
    )
    with RuntimeClient(a_url) as client, pytest.raises(WorkerHostedElsewhere) as caught:
        client.send_input("w", "hello")
    assert (caught.value.hosting_runtime_id, caught.value.hosting_url) == ("rt-b", b_url)
    with RuntimeClient(a_url, follow_moves=True) as client:
        ack = client.send_input("w", "hello")
        assert ack.worker_ref.runtime_id == "rt-b"
        assert client.transcript("w").items[-1].content == "hello"
        stream = client.stream_worker("w", reconnect=False)
        first = next(message for message in stream if isinstance(message, RuntimeEvent))
        stream.close()  # type: ignore[attr-defined]
        assert first.kind == "worker_created"  # from rt-b's log, from the Worker's start
        with pytest.raises(WorkerNotFound) as missing:
            client.worker_detail("ghost")
        assert type(missing.value) is WorkerNotFound
    store.locations["w"] = WorkerLocation(
        runtime_id="rt-b", url=b_url, live=False, reason="its lease lapsed"
    )
    with RuntimeClient(a_url, follow_moves=True) as client, pytest.raises(WorkerOrphaned):
        client.worker_detail("w")  # an orphan's last host is not followed


# --- real processes on an fs store ------------------------------------------------------------


def _adopted_ids(client: object, wanted: set[str]) -> set[str]:
    """Long-poll ``client``'s events until ``wanted`` Workers were adopted (bounded)."""
    from yoi_worker_runtime.client import RuntimeClient

    assert isinstance(client, RuntimeClient)
    found: set[str] = set()
    cursor: object = "start"
    deadline = time.monotonic() + WAIT
    while not wanted <= found:
        assert time.monotonic() < deadline, f"adopted only {sorted(found)}"
        batch = client.events(cursor, wait=2.0)  # type: ignore[arg-type]
        found |= {
            e.worker_ref.worker_id
            for e in batch.events
            if e.kind == "worker_adopted" and e.worker_ref is not None
        }
        cursor = batch.cursor
    return found


@pytest.mark.feature("http-server")
@pytest.mark.feature("fs-store")
def test_on_an_fs_store_a_killed_runtimes_workers_are_adopted_a_closed_ones_are_not(
    tmp_path: Path,
) -> None:
    from rest_server import running_server

    store = f"fs://{tmp_path / 'data'}"
    a = running_server("--store", store, "--runtime-id", "rt-a")
    c = running_server("--store", store, "--runtime-id", "rt-c")
    with a as host_a, c as host_c:
        for host, name in ((host_a, "from-a"), (host_c, "from-c")):
            with host.client() as client:
                client.create_worker(
                    CreateWorkerRequest(
                        name=name,
                        intent=TaskIntent(objective=name),
                        profile=BuiltinProfile(value="none"),
                    )
                )
                client.send_input(name, f"kept by {name}")
        assert host_c.stop() == 0  # a clean stop: expected back, never adopted
        host_a.process.kill()  # a crash: the kernel drops its lease at once
        host_a.process.wait()
        adopter = running_server("--store", store, "--runtime-id", "rt-b", "--adopt")
        with adopter as host_b, host_b.client() as client:
            assert _adopted_ids(client, {"from-a"}) == {"from-a"}
            transcript = client.transcript("from-a").items
            assert [item.content for item in transcript] == ["kept by from-a"]
            assert [w.worker_id for w in client.list_workers()] == ["from-a"]
