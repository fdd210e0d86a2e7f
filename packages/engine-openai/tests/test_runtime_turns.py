"""Whole turns through ``yoi``'s REST server on the openai engine, against the real model server.

Assertions are on shape and lifecycle, not on the model's words (temperature 0 anyway).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from llama_server import LlamaServer
from yoi_server import yoi_server
from yoi_worker_runtime import (
    AssistantIntent,
    CreateWorkerRequest,
    NamedProfile,
    RequestedCapability,
    RuntimeDefaultProfile,
)
from yoi_worker_runtime.client import RuntimeClient
from yoi_worker_runtime.model import RuntimeEvent, TurnTextDelta

DISCONNECTED = "Disconnected from client"
#: Seconds the model server may take to stop generating once yoi hung up.
STOP_BOUND = 2.0


def create(client: RuntimeClient, name: str, profile: str | None = None, *tools: str) -> None:
    client.create_worker(
        CreateWorkerRequest(
            name=name,
            intent=AssistantIntent(),
            profile=NamedProfile(value=profile) if profile else RuntimeDefaultProfile(),
            requested_capabilities=tuple(RequestedCapability(name=tool) for tool in tools),
        )
    )


def test_a_whole_turn_streams_deltas_that_join_into_the_recorded_reply(
    tmp_path: Path, llama_url: str
) -> None:
    with yoi_server(tmp_path, llama_url) as server, server.client() as client:
        create(client, "chat")
        stream = client.stream_worker("chat")
        ack = client.send_input("chat", "Say hello in five words.")
        deltas: list[str] = []
        for message in stream:
            if isinstance(message, TurnTextDelta):
                deltas.append(message.text)
            if isinstance(message, RuntimeEvent) and message.kind in (
                "turn_completed",
                "turn_failed",
            ):
                assert message.kind == "turn_completed", message
                break
        turn = client.turn("chat", ack.turn_id or "")
        assert turn.phase == "completed" and turn.reply
        assert len(deltas) >= 2 and "".join(deltas) == turn.reply
        roles = [item.role for item in client.transcript("chat").items]
        assert roles == ["user", "assistant"]
        # A second turn is sent the first one as history and answers too.
        second = client.send_input("chat", "And now in three words.")
        assert client.wait_for_turn("chat", second.turn_id or "", 120).phase == "completed"


def test_an_interrupt_mid_stream_stops_the_generation(
    tmp_path: Path, own_llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    llama = own_llama_server
    with yoi_server(tmp_path, llama.url) as server, server.client() as client:
        create(client, "talker", "long")
        stream = client.stream_worker("talker")
        ack = client.send_input("talker", "Count from one to two hundred, one number a line.")
        for message in stream:
            if isinstance(message, TurnTextDelta):
                break
        disconnects = llama.log().count(DISCONNECTED)
        asked = time.monotonic()
        interrupted = client.interrupt_turn("talker")
        answered = time.monotonic()
        stopped = llama.wait_for_output(DISCONNECTED, seen_before=disconnects, timeout=30)
        assert interrupted.changed and interrupted.turn_id == ack.turn_id
        assert stopped is not None, "the model server never saw the disconnect"
        with capsys.disabled():
            print(
                f"\n[llama.cpp via yoi] interrupt answered in {(answered - asked) * 1000:.0f} ms; "
                f"the server stopped generating {(stopped - asked) * 1000:.0f} ms after it"
            )
        assert stopped - asked < STOP_BOUND
        turn = client.turn("talker", ack.turn_id or "")
        assert (turn.phase, turn.reason, turn.reply) == ("interrupted", "interrupted", None)
        assert [item.role for item in client.transcript("talker").items] == ["user"]
        # Deltas the turn produced before the interrupt may still be on their way down the
        # stream; none may follow its turn_interrupted event. Then the Worker answers again.
        follow = client.send_input("talker", "Just say ok.")
        ended = False
        follow_deltas = 0
        for message in stream:
            if isinstance(message, TurnTextDelta):
                assert message.turn_id in (ack.turn_id, follow.turn_id), message
                assert message.turn_id == follow.turn_id or not ended, "a delta after the end"
                follow_deltas += message.turn_id == follow.turn_id
            if isinstance(message, RuntimeEvent) and message.turn_id == ack.turn_id:
                ended = ended or message.kind == "turn_interrupted"
            if isinstance(message, RuntimeEvent) and message.kind == "turn_completed":
                assert message.turn_id == follow.turn_id
                break
        assert ended and follow_deltas >= 1


def test_a_model_server_killed_mid_turn_fails_it_and_after_a_restart_turns_work(
    tmp_path: Path, own_llama_server: LlamaServer
) -> None:
    llama = own_llama_server
    with yoi_server(tmp_path, llama.url) as server, server.client() as client:
        create(client, "w", "long")
        stream = client.stream_worker("w")
        ack = client.send_input("w", "Count from one to two hundred, one number a line.")
        for message in stream:
            if isinstance(message, TurnTextDelta):
                break
        llama.kill()
        killed = time.monotonic()
        turn = client.wait_for_turn("w", ack.turn_id or "", 60)
        assert (turn.phase, turn.reason) == ("failed", "engine_unavailable")
        assert time.monotonic() - killed < 10
        assert client.worker_detail("w").turn.state == "idle"
        llama.start()
        again = client.send_input("w", "Say ok.")
        assert client.wait_for_turn("w", again.turn_id or "", 120).phase == "completed"


def test_a_runtime_killed_mid_turn_records_it_interrupted_on_restart(
    tmp_path: Path, llama_url: str
) -> None:
    with yoi_server(tmp_path, llama_url) as server, server.client() as client:
        create(client, "w", "long")
        stream = client.stream_worker("w")
        ack = client.send_input("w", "Count from one to two hundred, one number a line.")
        for message in stream:
            if isinstance(message, TurnTextDelta):
                break
        server.kill()
    with yoi_server(tmp_path, llama_url) as server, server.client() as client:
        turn = client.turn("w", ack.turn_id or "")
        assert (turn.phase, turn.reason) == ("interrupted", "runtime_restarted")
        next_turn = client.send_input("w", "Say ok.")
        assert client.wait_for_turn("w", next_turn.turn_id or "", 120).phase == "completed"


def test_a_forced_tool_choice_calls_the_tool_and_the_turn_ends_with_its_result(
    tmp_path: Path, llama_url: str
) -> None:
    workspace = tmp_path / "workspaces" / "reader"
    workspace.mkdir(parents=True)
    (workspace / "notes.txt").write_text("the answer is 42\n")
    with yoi_server(tmp_path, llama_url) as server, server.client() as client:
        create(client, "reader", "reader", "read_file")
        ack = client.send_input("reader", "Read the file notes.txt and tell me what it says.")
        turn = client.wait_for_turn("reader", ack.turn_id or "", 180)
        items = client.transcript("reader").items
    assert turn.phase == "completed", turn
    roles = [item.role for item in items]
    assert roles[:3] == ["user", "tool_call", "tool_result"] and roles[-1] == "assistant"
    call, result = items[1], items[2]
    assert call.tool_name == "read_file" and result.call_id == call.call_id
    calls = [item.call_id for item in items if item.role == "tool_call"]
    results = [item.call_id for item in items if item.role == "tool_result"]
    assert calls == results  # every call answered exactly once, and the next step accepted it
