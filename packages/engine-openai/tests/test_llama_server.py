"""The engine against a real model server: llama-cpp-python's server with SmolLM2-135M-Instruct.

Assertions are on shape and lifecycle, never on the model's words. Replies are capped at a few
tokens, except where a long generation is the point (``LONG``: the server must not stop early,
so ``min_tokens`` keeps it from ending the reply before then).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from conftest import cancel_while_reading, run
from llama_server import LlamaServer, free_loopback_port
from yoi_engine_openai.engine import OpenAIEngine, create_openai_engine
from yoi_worker_runtime.engines import (
    AssistantMessage,
    Engine,
    EngineEvent,
    EngineFailed,
    EngineSettings,
    Message,
    StepRequest,
    TextDelta,
    ToolSpec,
    Usage,
)
from yoi_worker_runtime.engines.testing import (
    CANCEL_BOUND,
    SIMPLE,
    ServerEngineConformance,
    check_step_shape,
    collect,
    step_request,
)

#: Tokens of a reply that is not meant to be long.
SHORT = 24
#: Tokens of a reply that must outlast the test's interrupt by seconds.
LONG = 600
COUNT = step_request(Message(role="user", content="Count from 1 to 1000, one number a line."))
#: Deltas timed to know how long the rest of a reply would take.
DELTAS_TIMED = 10
#: What llama-cpp-python's server prints when it stops a generation whose client hung up.
DISCONNECTED = "Disconnected from client"
#: Seconds the engine may take to report a server that died mid-reply.
DEATH_BOUND = 5.0


def llama_engine(url: str, max_output_tokens: int = SHORT, **settings: Any) -> OpenAIEngine:
    return create_openai_engine(
        EngineSettings(
            model="smollm2",
            base_url=url,
            temperature=0.0,
            max_output_tokens=max_output_tokens,
            timeout=30.0,
            **settings,
        )
    )


def long_engine(url: str) -> OpenAIEngine:
    return llama_engine(url, max_output_tokens=LONG, options={"extra_body": {"min_tokens": LONG}})


class TestLlamaConformance(ServerEngineConformance):
    @pytest.fixture
    def engine(self, llama_url: str) -> Engine:
        return llama_engine(llama_url)

    @pytest.fixture
    def unreachable_engine(self) -> Engine:
        return llama_engine(f"http://127.0.0.1:{free_loopback_port()}/v1")


def test_a_step_streams_many_deltas_and_temperature_zero_repeats_itself(llama_url: str) -> None:
    engine = llama_engine(llama_url)
    first, second = (run(engine, SIMPLE) for _ in range(2))
    message = check_step_shape(first)
    assert len([event for event in first if isinstance(event, TextDelta)]) >= 2
    assert message.text.strip() and not message.tool_calls
    assert check_step_shape(second).text == message.text
    # llama-cpp-python sends no usage in a stream, and none is made up
    assert not any(isinstance(event, Usage) for event in first)


def test_cancelling_mid_reply_stops_the_generation(
    own_llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server logs ``disconnected`` when it stops a generation whose client hung up, and runs
    one generation at a time (``--interrupt_requests False``): a request sent at the cancel is
    served only once the cancelled generation has stopped."""
    server = own_llama_server

    async def served_at(engine: OpenAIEngine) -> float:
        check_step_shape(await asyncio.wait_for(collect(engine.run_step(SIMPLE)), 30))
        return time.monotonic()

    async def cancel_then_ask() -> tuple[float | None, float, float]:
        cancelled = long_engine(server.url)
        asking = llama_engine(server.url, max_output_tokens=2)
        stream = cancelled.run_step(COUNT)
        assert isinstance(await asyncio.wait_for(anext(stream), 30), TextDelta)
        started = time.monotonic()
        for _ in range(DELTAS_TIMED):
            assert isinstance(await asyncio.wait_for(anext(stream), 30), TextDelta)
        per_delta = (time.monotonic() - started) / DELTAS_TIMED
        disconnects = server.log().count(DISCONNECTED)
        cancelled_at = await cancel_while_reading(stream)
        stopped_at, served = await asyncio.gather(
            asyncio.to_thread(
                server.wait_for_output, DISCONNECTED, seen_before=disconnects, timeout=30
            ),
            served_at(asking),
        )
        stopped_after = None if stopped_at is None else stopped_at - cancelled_at
        return stopped_after, served - cancelled_at, per_delta * (LONG - 1 - DELTAS_TIMED)

    stopped_after, served_after, rest_of_reply = asyncio.run(cancel_then_ask())
    assert stopped_after is not None, "the server never logged the disconnect"
    with capsys.disabled():
        print(
            f"\n[llama.cpp] generation stopped {stopped_after * 1000:.0f} ms after the cancel; "
            f"a request sent then was served after {served_after * 1000:.0f} ms; the rest of "
            f"the cancelled reply would have taken {rest_of_reply:.1f} s"
        )
    assert stopped_after < CANCEL_BOUND
    assert served_after < rest_of_reply / 2


def test_a_server_killed_mid_reply_fails_as_unavailable_and_the_engine_streams_after_a_restart(
    own_llama_server: LlamaServer,
) -> None:
    server = own_llama_server
    engine = long_engine(server.url)

    async def kill_mid_reply_then_restart() -> tuple[list[EngineEvent], float, list[EngineEvent]]:
        stream = engine.run_step(COUNT)
        assert isinstance(await asyncio.wait_for(anext(stream), 30), TextDelta)
        server.kill()
        killed_at = time.monotonic()
        rest = await asyncio.wait_for(collect(stream), DEATH_BOUND)
        failed_after = time.monotonic() - killed_at
        await asyncio.to_thread(server.start)
        # The same engine, whose connection died with the server, streams again; the rest of
        # this long reply is not waited for.
        again = engine.run_step(COUNT)
        started = [await asyncio.wait_for(anext(again), 30) for _ in range(3)]
        await again.aclose()  # type: ignore[attr-defined]
        return rest, failed_after, started

    rest, failed_after, started_again = asyncio.run(kill_mid_reply_then_restart())
    failure = rest[-1]
    assert isinstance(failure, EngineFailed) and failure.reason == "engine_unavailable", rest
    assert not any(isinstance(event, AssistantMessage) for event in rest)
    assert failed_after < DEATH_BOUND
    assert all(isinstance(event, TextDelta) for event in started_again)


WEATHER = ToolSpec(
    name="get_weather",
    description="Get the current weather in a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


def test_a_forced_tool_choice_makes_the_model_call_the_tool_then_answer_its_result(
    llama_url: str,
) -> None:
    engine = llama_engine(
        llama_url,
        max_output_tokens=48,
        options={"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    )
    history = (Message(role="user", content="What is the weather in Paris?"),)
    first = StepRequest(worker_id="w", turn_id="t", step=0, messages=history, tools=(WEATHER,))
    message = check_step_shape(run(engine, first))
    [call] = message.tool_calls
    assert call.name == "get_weather" and call.call_id
    arguments = json.loads(call.arguments)
    assert isinstance(arguments, dict) and isinstance(arguments["city"], str)

    answered = (
        *history,
        Message(role="assistant", content=message.text, tool_calls=(call,)),
        Message(role="tool", content="sunny, 21 degrees", tool_call_id=call.call_id),
    )
    second = StepRequest(worker_id="w", turn_id="t", step=1, messages=answered, tools=(WEATHER,))
    reply = check_step_shape(run(engine, second))
    assert reply.text.strip() and not reply.tool_calls
