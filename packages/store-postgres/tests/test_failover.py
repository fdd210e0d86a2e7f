"""Runtimes sharing one database fail over: a dead or stalled Runtime's Workers are adopted
elsewhere, a fenced Runtime knows it, clients find moved Workers. Real server processes,
real signals; a checker reads the transcripts throughout."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import with_options
from failover_support import (
    WAIT,
    YOI,
    Acks,
    Served,
    TranscriptChecker,
    adopted,
    send_inputs,
    wait_for_events,
    write_config,
)
from yoi_pod_store.plugins import open_pod_store
from yoi_worker_runtime import (
    CreateWorkerRequest,
    NamedProfile,
    RuntimeEvent,
    TaskIntent,
    WorkerHostedElsewhere,
)

#: The lease's time to live in these tests: short, so a death lapses in seconds, yet long
#: enough that a loaded machine never misses a heartbeat of a live Runtime.
TTL = 3


@pytest.fixture
def shared_url(server_url: str, schema: str) -> str:
    return with_options(server_url, schema=schema, lease_ttl=TTL)


Start = Callable[..., Served]


@pytest.fixture
def serving(shared_url: str, tmp_path: Path) -> Iterator[Start]:
    config = write_config(tmp_path)
    started: list[Served] = []

    def start(runtime_id: str, *flags: str) -> Served:
        served = Served(shared_url, runtime_id, config, *flags)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def create(served: Served, name: str, profile: str = "record") -> None:
    with served.client() as client:
        client.create_worker(
            CreateWorkerRequest(
                name=name, intent=TaskIntent(objective=name), profile=NamedProfile(value=profile)
            )
        )


def test_a_killed_runtimes_workers_are_adopted_with_every_acknowledged_input(
    serving: Start, server_url: str, schema: str
) -> None:
    a = serving("rt-a")
    b = serving("rt-b", "--adopt")
    create(a, "thinker", profile="slow")
    names = [f"w{n}" for n in range(4)]
    for name in names:
        create(a, name)
    with a.client() as client:
        turn_id = client.send_input("thinker", "think long").turn_id
        assert turn_id is not None
    acks = Acks()
    stop = threading.Event()
    with TranscriptChecker(server_url, schema) as checker:
        senders = [
            threading.Thread(target=send_inputs, args=(a.client(), name, stop, acks))
            for name in names
        ]
        for sender in senders:
            sender.start()
        # Mid-input (the senders are busy) and mid-turn (the slow turn runs a minute).
        acks.wait_for(40)
        a.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        with b.client() as client:
            wait_for_events(client, lambda events: adopted(events) == {"thinker", *names})
            took = time.monotonic() - killed_at
            stop.set()
            for sender in senders:
                sender.join(WAIT)
            for name in names:
                items = client.transcript(name).items
                held = {(item.sequence, item.content) for item in items}
                assert acks.of(name) <= held, f"{name} lost acknowledged input"
            turn = client.turn("thinker", turn_id)
            assert (turn.phase, turn.reason) == ("interrupted", "host_lost")
            assert client.worker_detail("thinker").turn.state == "idle"
            ack = client.send_input("w0", "after the move")  # B serves it now
            assert client.transcript("w0").items[-1].content == "after the move"
            assert ack.worker_ref.runtime_id == "rt-b"
    assert checker.reads > 0 and checker.problems == []
    # Lapse (TTL plus its fifth as margin) plus a scan or two: far inside 15 s of the lapse.
    assert took < TTL * 1.2 + 15


def test_a_stalled_runtime_is_fenced_then_exits_and_clients_follow_its_worker(
    serving: Start, server_url: str, schema: str, shared_url: str
) -> None:
    a = serving("rt-a")
    b = serving("rt-b", "--adopt")
    create(a, "w")
    with a.client() as client:
        client.send_input("w", "before the stall")
    with TranscriptChecker(server_url, schema) as checker:
        a.signal(signal.SIGSTOP)
        try:
            with b.client() as client:
                wait_for_events(client, lambda events: "w" in adopted(events))
            # A request waits in A's socket while A is stopped: the first thing A sees.
            parts = urlsplit(a.url)
            late = socket.create_connection((parts.hostname, parts.port), timeout=WAIT)
            body = json.dumps({"kind": "user", "content": "after the stall"}).encode()
            late.sendall(
                b"POST /v1/workers/w/input HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
        finally:
            a.signal(signal.SIGCONT)
        # A answers the waiting request 503 lease_lost, or, when its lease check wins the race
        # after SIGCONT and it exits before reading the request, the kernel resets the queued
        # connection as the listener closes. Refused either way; never accepted (see below).
        response = http.client.HTTPResponse(late)
        try:
            response.begin()
            answer = json.loads(response.read())
        except (ConnectionResetError, http.client.RemoteDisconnected):
            answer = None
        late.close()
        if answer is not None:
            assert response.status == 503, answer
            assert answer["error"]["code"] == "lease_lost"
        assert a.wait() == 3  # the supervisor's cue to start it again
        assert "lost its hosting lease" in a.stderr()
        with b.client() as client:
            assert [i.content for i in client.transcript("w").items] == ["before the stall"]

        # Started again, A leaves the adopted Worker to B and sends its clients there.
        a_again = serving("rt-a", "--wait-for-lease")
        with a_again.client() as client, pytest.raises(WorkerHostedElsewhere) as moved:
            client.worker_detail("w")
        assert moved.value.code == "worker_hosted_elsewhere"
        assert (moved.value.hosting_runtime_id, moved.value.hosting_url) == ("rt-b", b.url)
        with a_again.client(follow_moves=True) as client:
            ack = client.send_input("w", "followed")
            assert ack.worker_ref.runtime_id == "rt-b"
        shown = subprocess.run(
            [YOI, "worker", "--url", a_again.url, "--follow-moves", "show", "w", "--json"],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["runtime_id"] == "rt-b"
        refused = subprocess.run(
            [YOI, "worker", "--url", a_again.url, "show", "w"],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert refused.returncode == 1
        assert "worker_hosted_elsewhere" in refused.stderr and b.url in refused.stderr
    assert checker.reads > 0 and checker.problems == []


def test_two_adopting_runtimes_never_take_one_worker_twice(serving: Start, shared_url: str) -> None:
    a = serving("rt-a")
    names = {f"w{n:02}" for n in range(12)}
    for name in sorted(names):
        create(a, name)
    b = serving("rt-b", "--adopt")
    c = serving("rt-c", "--adopt")
    a.signal(signal.SIGKILL)
    with b.client() as client_b, c.client() as client_c:
        found: dict[str, list[RuntimeEvent]] = {"rt-b": [], "rt-c": []}
        cursors: dict[str, Any] = {"rt-b": "start", "rt-c": "start"}
        clients = {"rt-b": client_b, "rt-c": client_c}
        deadline = time.monotonic() + WAIT
        while adopted(found["rt-b"]) | adopted(found["rt-c"]) != names:
            assert time.monotonic() < deadline, "not every Worker was adopted"
            for runtime_id, client in clients.items():  # long-polls: each answers on news
                batch = client.events(cursors[runtime_id], wait=0.5)
                found[runtime_id] += batch.events
                cursors[runtime_id] = batch.cursor
        by_b, by_c = adopted(found["rt-b"]), adopted(found["rt-c"])
        assert by_b.isdisjoint(by_c), by_b & by_c
        listed_b = {w.worker_id for w in client_b.list_workers()}
        listed_c = {w.worker_id for w in client_c.list_workers()}
    assert (listed_b, listed_c) == (by_b, by_c)
    pods = open_pod_store(shared_url)
    try:
        for name in names:
            record = pods.read(name)
            assert record is not None
            assert record.hosting_runtime_id == ("rt-b" if name in by_b else "rt-c")
    finally:
        pods.close()


def test_restarting_a_killed_runtime_says_when_its_lease_lapses_and_can_wait_for_it(
    serving: Start, shared_url: str, tmp_path: Path
) -> None:
    a = serving("rt-a")
    create(a, "w")
    a.signal(signal.SIGKILL)
    a.wait()
    command = [YOI, "runtime", "serve", "--store", shared_url, "--runtime-id", "rt-a"]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=WAIT, check=False)
    assert refused.returncode == 1
    assert "lapses in" in refused.stderr and "--wait-for-lease" in refused.stderr
    assert "already open in another process" not in refused.stderr
    started = time.monotonic()
    again = serving("rt-a", "--wait-for-lease")
    assert time.monotonic() - started < TTL * 1.2 + 5
    with again.client() as client:
        assert client.worker_detail("w").status == "running"
