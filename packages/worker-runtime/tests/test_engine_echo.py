"""The built-in echo engine: its options, its replies, and the engine conformance kit."""

from __future__ import annotations

import asyncio

import pytest
from yoi_worker_runtime.engines import (
    AssistantMessage,
    EngineConfigError,
    EngineFailed,
    EngineSettings,
    Message,
    TextDelta,
    Usage,
    engine_providers,
)
from yoi_worker_runtime.engines.contract import Engine
from yoi_worker_runtime.engines.echo import create_echo, split_text
from yoi_worker_runtime.engines.testing import EngineConformance, collect, step_request


def echo(**options: object) -> Engine:
    return create_echo(EngineSettings(options=options))


class TestEchoConformance(EngineConformance):
    @pytest.fixture
    def engine(self) -> Engine:
        return echo(chunks=5, chunk_delay_ms=1)


def test_echo_streams_the_input_back_in_the_asked_number_of_chunks() -> None:
    request = step_request(Message(role="user", content="hello there world"))
    events = asyncio.run(collect(echo(chunks=4).run_step(request)))
    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert len(deltas) == 4
    assert "".join(deltas) == "echo: hello there world"
    assert events[-2] == AssistantMessage(text="echo: hello there world")
    assert events[-1] == Usage(input_tokens=3, output_tokens=4)


def test_split_text_never_makes_empty_pieces() -> None:
    assert split_text("abc", 10) == ["a", "b", "c"]
    assert split_text("abcdefg", 3) == ["abc", "de", "fg"]
    assert split_text("", 3) == [""]


def test_fail_with_streams_half_then_fails_with_that_reason() -> None:
    request = step_request(Message(role="user", content="x" * 10))
    events = asyncio.run(collect(echo(chunks=4, fail_with="engine_rate_limited").run_step(request)))
    assert [type(event) for event in events] == [TextDelta, TextDelta, EngineFailed]
    failure = events[-1]
    assert isinstance(failure, EngineFailed) and failure.reason == "engine_rate_limited"


def test_scripted_tool_calls_come_first_then_their_results_are_echoed() -> None:
    engine = echo(tool_calls=[{"name": "read_file", "arguments": {"path": "a.txt"}}])
    first = asyncio.run(collect(engine.run_step(step_request(Message(role="user", content="go")))))
    message = first[0]
    assert isinstance(message, AssistantMessage) and message.text == ""
    (call,) = message.tool_calls
    assert (call.name, call.arguments) == ("read_file", '{"path": "a.txt"}')
    history = (
        Message(role="user", content="go"),
        Message(role="assistant", tool_calls=message.tool_calls),
        Message(role="tool", content="hello", tool_call_id=call.call_id),
    )
    second = asyncio.run(collect(engine.run_step(step_request(*history, step=1))))
    assert isinstance(second[-2], AssistantMessage)
    assert second[-2].text == "read_file: hello"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"chunk": 3}, "unknown echo option 'chunk'"),
        ({"chunks": 0}, "chunks must be an integer >= 1"),
        ({"chunks": True}, "chunks must be an integer >= 1"),
        ({"chunk_delay_ms": -1}, "chunk_delay_ms must be a number >= 0"),
        ({"fail_with": "boom"}, "fail_with must be one of"),
        ({"tool_calls": "x"}, "tool_calls must be a list"),
        ({"tool_calls": [{"arguments": {}}]}, "tool_calls[0] needs a string name"),
    ],
)
def test_bad_echo_options_are_refused_naming_the_problem(
    options: dict[str, object], expected: str
) -> None:
    with pytest.raises(EngineConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        echo(**options)


def test_the_builtin_engines_are_registered() -> None:
    providers = engine_providers()
    assert providers["echo"].create is not None
    assert providers["none"].create is None
