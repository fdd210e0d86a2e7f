"""Turns over REST, against a real server process: inputs answered, interrupts, busy Workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_server import ServerProcess, post_json, raw, running_server
from yoi_worker_runtime import (
    AssistantIntent,
    CreateWorkerRequest,
    NamedProfile,
    RuntimeDefaultProfile,
)
from yoi_worker_runtime.client import RuntimeClient
from yoi_worker_runtime.errors import WorkerBusy

pytestmark = pytest.mark.feature("http-server")

#: "slow" turns last a minute: the tests that use them interrupt them, however loaded the machine.
CONFIG = """
[profiles.slow]
engine = "echo"
options = { chunks = 1200, chunk_delay_ms = 50 }

[profiles.careful]
engine = "echo"
options = { chunks = 3 }
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    config = tmp_path_factory.mktemp("config") / "yoi.toml"
    config.write_text(CONFIG)
    with running_server("--store", "memory", "--config", str(config)) as running:
        yield running


def create(client: RuntimeClient, name: str, profile: str | None = None) -> None:
    chosen = NamedProfile(value=profile) if profile else RuntimeDefaultProfile()
    client.create_worker(CreateWorkerRequest(name=name, intent=AssistantIntent(), profile=chosen))


def test_an_input_is_answered_by_the_default_engine(server: ServerProcess) -> None:
    with server.client() as client:
        create(client, "greeter")
        ack = client.send_input("greeter", "hello")
        assert ack.turn_id is not None and ack.turn_phase == "running"
        turn = client.wait_for_turn("greeter", ack.turn_id, 10)
        assert (turn.phase, turn.reply) == ("completed", "echo: hello")
        detail = client.worker_detail("greeter")
        assert detail.turn.state == "idle" and detail.usage.output_tokens == 2
        items = client.transcript("greeter").items
        assert [(item.role, item.content) for item in items] == [
            ("user", "hello"),
            ("assistant", "echo: hello"),
        ]


def test_a_turn_waited_for_answers_as_soon_as_it_ends(server: ServerProcess) -> None:
    with server.client() as client:
        create(client, "waiter", "careful")
        ack = client.send_input("waiter", "quick")
        started = time.monotonic()
        turn = client.turn("waiter", ack.turn_id or "", wait=20)
        assert turn.phase == "completed"
        assert time.monotonic() - started < 5


def test_interrupt_over_rest_ends_the_turn_and_the_worker_goes_on(server: ServerProcess) -> None:
    with server.client() as client:
        create(client, "talker", "slow")
        ack = client.send_input("talker", "a long answer please")
        interrupted = client.interrupt_turn("talker")
        assert (interrupted.changed, interrupted.turn_id) == (True, ack.turn_id)
        turn = client.turn("talker", ack.turn_id or "")
        assert (turn.phase, turn.reason) == ("interrupted", "interrupted")
        assert client.worker_detail("talker").status == "running"
        idle = client.interrupt_turn("talker")
        assert (idle.changed, idle.turn_id) == (False, None)
        answer = post_json(server.url, "/v1/workers/talker/interrupt", {"drop_queued": "yes"})
        assert (answer.status, answer.code) == (400, "invalid_request")


def test_a_rejecting_worker_answers_409_worker_busy(server: ServerProcess) -> None:
    with server.client() as client:
        client.create_worker(
            CreateWorkerRequest(
                name="strict",
                intent=AssistantIntent(),
                profile=NamedProfile(value="slow"),
                on_busy="reject",
            )
        )
        first = client.send_input("strict", "first")
        with pytest.raises(WorkerBusy) as caught:
            client.send_input("strict", "second")
        assert caught.value.status == 409  # type: ignore[attr-defined]
        assert first.turn_id is not None and first.turn_id in caught.value.message
        client.interrupt_turn("strict")


def test_unknown_profiles_and_tools_are_400s_that_write_nothing(server: ServerProcess) -> None:
    before = raw(server.url, "GET", "/v1/runtime").body["runtime"]["last_event_id"]
    body: dict[str, object] = {
        "intent": {"kind": "assistant"},
        "profile": {"kind": "named", "value": "nope"},
    }
    answer = post_json(server.url, "/v1/workers", body)
    assert (answer.status, answer.code) == (400, "unknown_profile")
    assert "careful, slow" in answer.body["error"]["message"]
    body = {
        "intent": {"kind": "assistant"},
        "profile": {"kind": "runtime_default"},
        "requested_capabilities": [{"name": "shell"}],
    }
    answer = post_json(server.url, "/v1/workers", body)
    assert (answer.status, answer.code) == (400, "unknown_tool")
    assert raw(server.url, "GET", "/v1/runtime").body["runtime"]["last_event_id"] == before


def test_an_unknown_turn_is_404(server: ServerProcess) -> None:
    with server.client() as client:
        create(client, "lonely")
    answer = raw(server.url, "GET", "/v1/workers/lonely/turns/turn-nope")
    assert (answer.status, answer.code) == (404, "turn_not_found")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--default-profile", "missing"), "default profile 'missing' is not defined"),
        (("--allow-tool", "shell"), "allow_tools names 'shell'"),
        (("--config", "/nonexistent/yoi.toml"), "cannot read the configuration"),
        (("--stream-heartbeat", "0.5"), "at least 1 second"),
    ],
)
def test_a_bad_configuration_stops_the_server_with_a_usage_error(
    flags: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", "memory", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
