"""What the engine makes of a stream: deltas, the message, tool calls from fragments, usage."""

from __future__ import annotations

import asyncio

from conftest import cancel_while_reading, engine_at, run
from fake_openai import FakeOpenAI, Reply, chunk, text_reply, usage_chunk
from yoi_worker_runtime.engines import (
    AssistantMessage,
    EngineFailed,
    Message,
    TextDelta,
    ToolCall,
    Usage,
)
from yoi_worker_runtime.engines.testing import CANCEL_BOUND, check_step_shape, step_request

HELLO = step_request(Message(role="user", content="hello"))


def fragment(
    index: int | None, *, call_id: str | None = None, name: str | None = None, arguments: str = ""
) -> dict[str, object]:
    function: dict[str, object] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    item: dict[str, object] = {"type": "function", "function": function}
    if index is not None:
        item["index"] = index
    if call_id is not None:
        item["id"] = call_id
    return item


def test_deltas_stream_and_add_up_to_the_message_with_the_usage_the_server_sent(
    fake: FakeOpenAI,
) -> None:
    reply = text_reply("Hel", "lo", "", " there")
    fake.script(Reply(events=[*(reply.events or []), usage_chunk(12, 3)]))
    events = run(engine_at(fake.url), HELLO)
    assert events == [
        TextDelta(text="Hel"),
        TextDelta(text="lo"),
        TextDelta(text=" there"),
        AssistantMessage(text="Hello there"),
        Usage(input_tokens=12, output_tokens=3),
    ]
    check_step_shape(events)


def test_no_usage_is_reported_when_the_server_sends_none(fake: FakeOpenAI) -> None:
    fake.script(text_reply("ok"))
    events = run(engine_at(fake.url), HELLO)
    assert not any(isinstance(event, Usage) for event in events)
    check_step_shape(events)


def test_tool_call_fragments_assemble_into_tool_calls_by_index(fake: FakeOpenAI) -> None:
    fake.script(
        Reply(
            events=[
                chunk("Let me look."),
                chunk(tool_calls=[fragment(0, call_id="call_a", name="lookup", arguments="")]),
                chunk(tool_calls=[fragment(0, arguments='{"wo')]),
                chunk(tool_calls=[fragment(1, call_id="call_b", name="now")]),
                chunk(tool_calls=[fragment(0, arguments='rd": "yoi"}')]),
                chunk(finish="tool_calls"),
            ]
        )
    )
    events = run(engine_at(fake.url), HELLO)
    message = check_step_shape(events)
    assert message == AssistantMessage(
        text="Let me look.",
        tool_calls=(
            ToolCall(call_id="call_a", name="lookup", arguments='{"word": "yoi"}'),
            ToolCall(call_id="call_b", name="now", arguments="{}"),
        ),
    )


def test_ids_and_names_repeated_in_every_fragment_are_taken_once(fake: FakeOpenAI) -> None:
    """llama-cpp-python repeats the call's id and name in each fragment."""
    pieces = ['{"word"', ': "a"', "}"]
    fake.script(
        Reply(
            events=[
                *(
                    chunk(tool_calls=[fragment(0, call_id="c0", name="lookup", arguments=piece)])
                    for piece in pieces
                ),
                chunk(finish="tool_calls"),
            ]
        )
    )
    message = check_step_shape(run(engine_at(fake.url), HELLO))
    assert message.tool_calls == (ToolCall(call_id="c0", name="lookup", arguments='{"word": "a"}'),)


def test_a_call_without_id_or_index_gets_an_id_of_the_turn_and_step(fake: FakeOpenAI) -> None:
    fake.script(
        Reply(
            events=[
                chunk(tool_calls=[fragment(None, name="now", arguments="{}")]),
                chunk(finish="tool_calls"),
            ]
        )
    )
    message = check_step_shape(run(engine_at(fake.url), HELLO))
    assert message.tool_calls == (
        ToolCall(call_id="call-kit-turn-0-0", name="now", arguments="{}"),
    )


def test_a_tool_call_without_a_name_is_a_bad_response(fake: FakeOpenAI) -> None:
    fake.script(
        Reply(
            events=[
                chunk(tool_calls=[fragment(0, call_id="c", arguments="{}")]),
                chunk(finish="tool_calls"),
            ]
        )
    )
    events = run(engine_at(fake.url), HELLO)
    assert events[-1] == EngineFailed(
        reason="engine_bad_response", message="the server sent tool call 0 without a name"
    )


def test_a_stream_that_ends_without_finishing_the_reply_fails(fake: FakeOpenAI) -> None:
    fake.script(Reply(events=[chunk("Hal")]))  # [DONE] and a clean end, but no finish reason
    events = run(engine_at(fake.url), HELLO)
    assert events == [
        TextDelta(text="Hal"),
        EngineFailed(
            reason="engine_unavailable",
            message="the model server ended the stream before the reply was complete",
        ),
    ]


def test_cancelling_a_step_hangs_up_on_the_server_at_once(fake: FakeOpenAI) -> None:
    fake.script(Reply(events=[chunk("first")], end="stall"))
    engine = engine_at(fake.url)

    async def cancel_after_first_delta() -> float:
        stream = engine.run_step(HELLO)
        first = await asyncio.wait_for(anext(stream), 10)
        assert first == TextDelta(text="first")
        return await cancel_while_reading(stream)

    cancelled_at = asyncio.run(cancel_after_first_delta())
    assert fake.hung_up.wait(CANCEL_BOUND), "the server never saw the client hang up"
    assert fake.hung_up_at - cancelled_at < CANCEL_BOUND
