"""What the engine sends (history, settings, tools, key), as the server receives it."""

from __future__ import annotations

from conftest import KEY_ENV, engine_at, run
from fake_openai import FakeOpenAI, text_reply
from yoi_engine_openai.engine import PLACEHOLDER_KEY
from yoi_worker_runtime.engines import (
    AssistantMessage,
    EngineFailed,
    Message,
    StepRequest,
    ToolCall,
    ToolSpec,
)
from yoi_worker_runtime.engines.testing import step_request

LOOKUP = ToolSpec(
    name="lookup",
    description="Look a word up.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}},
)
NOW = ToolSpec(name="now", description="The current time.")
FORCED = {"type": "function", "function": {"name": "lookup"}}


def with_tools(step: int, *tools: ToolSpec) -> StepRequest:
    """Step ``step`` of a turn answering "hi", with these tools."""
    messages = (Message(role="user", content="hi"),)
    return StepRequest(worker_id="w", turn_id="t", step=step, messages=messages, tools=tools)


def test_the_history_maps_to_chat_messages_with_empty_assistant_content_as_a_string(
    fake: FakeOpenAI,
) -> None:
    fake.script(text_reply("ok"))
    call = ToolCall(call_id="call-1", name="lookup", arguments='{"word": "yoi"}')
    request = step_request(
        Message(role="system", content="Be terse."),
        Message(role="user", content="Look it up."),
        Message(role="assistant", content="", tool_calls=(call,)),
        Message(role="tool", content="no such word", tool_call_id="call-1", is_error=True),
        Message(role="assistant", content=""),
        Message(role="user", content="Fine."),
        step=1,
    )
    run(engine_at(fake.url), request)
    assert fake.received[0].body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Look it up."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call-1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"word": "yoi"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call-1", "content": "error: no such word"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Fine."},
    ]


def test_settings_and_options_are_sent_and_unset_ones_are_left_out(fake: FakeOpenAI) -> None:
    fake.script(text_reply("a"), text_reply("b"))
    configured = engine_at(
        fake.url,
        model="smol",
        temperature=0.0,
        max_output_tokens=16,
        options={"stop": ["END"], "extra_body": {"top_k": 1}, "tool_choice": "none"},
    )
    run(configured, step_request(Message(role="user", content="hi")))
    run(engine_at(fake.url, model="plain"), step_request(Message(role="user", content="hi")))
    sent, plain = (received.body for received in fake.received)
    assert sent["model"] == "smol" and sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0.0, 16, ["END"])
    assert sent["top_k"] == 1  # extra_body is merged into the body
    assert "tools" not in sent and "tool_choice" not in sent  # no tools, no tool choice
    assert set(plain) == {"model", "messages", "stream", "stream_options"}


def test_tools_are_sent_as_function_tools_and_forcing_applies_to_the_first_step(
    fake: FakeOpenAI,
) -> None:
    fake.script(text_reply("a"), text_reply("b"))
    engine = engine_at(fake.url, options={"tool_choice": FORCED})
    run(engine, with_tools(0, LOOKUP, NOW))
    run(engine, with_tools(1, LOOKUP, NOW))
    on_first, on_second = (received.body for received in fake.received)
    assert on_first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "now",
                "description": "The current time.",
                "parameters": {"type": "object", "properties": {}},
            },
        },
    ]
    assert on_first["tool_choice"] == FORCED
    assert "tool_choice" not in on_second and on_second["tools"] == on_first["tools"]


def test_forcing_a_tool_the_worker_lacks_fails_the_step_without_a_request(
    fake: FakeOpenAI,
) -> None:
    engine = engine_at(fake.url, options={"tool_choice": FORCED})
    [failure] = run(engine, with_tools(0, NOW))
    assert failure == EngineFailed(
        reason="engine_bad_response",
        message="the profile's tool_choice forces tool 'lookup', which this Worker does not have",
    )
    assert fake.received == []


def test_the_key_is_read_from_the_named_environment_variable(
    fake: FakeOpenAI, api_key: str
) -> None:
    fake.script(text_reply("ok"))
    run(engine_at(fake.url, api_key_env=KEY_ENV), step_request(Message(role="user", content="x")))
    assert fake.received[0].headers["authorization"] == f"Bearer {api_key}"


def test_without_api_key_env_a_placeholder_key_is_sent(fake: FakeOpenAI) -> None:
    fake.script(text_reply("ok"))
    events = run(engine_at(fake.url), step_request(Message(role="user", content="x")))
    assert AssistantMessage(text="ok") in events
    assert fake.received[0].headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_an_unset_key_variable_fails_the_step_as_auth_without_a_request(fake: FakeOpenAI) -> None:
    engine = engine_at(fake.url, api_key_env="YOI_TEST_KEY_THAT_IS_NOT_SET")
    [failure] = run(engine, step_request(Message(role="user", content="x")))
    assert isinstance(failure, EngineFailed) and failure.reason == "engine_auth"
    assert "YOI_TEST_KEY_THAT_IS_NOT_SET" in failure.message
    assert fake.received == []
