"""Failures map to the typed reasons, retries happen only before a stream starts, and no failure
message ever carries the key or the provider's error body (which here echoes the key)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence

import pytest
from conftest import KEY_ENV, engine_at, run
from fake_openai import FakeOpenAI, Reply, chunk, text_reply
from llama_server import free_loopback_port
from yoi_worker_runtime.engines import AssistantMessage, EngineFailed, Message, TextDelta
from yoi_worker_runtime.engines.testing import step_request

HELLO = step_request(Message(role="user", content="hello"))


def echoing(status: int, key: str, **headers: str) -> Reply:
    """An error reply whose body quotes the key, as some providers' do."""
    body = {"error": {"message": f"Provider says: bad request with key {key}", "code": status}}
    return Reply(status=status, body=body, headers=headers)


def failure_of(events: Sequence[object]) -> EngineFailed:
    assert events, "no events"
    failure = events[-1]
    assert isinstance(failure, EngineFailed), events
    assert not any(isinstance(event, AssistantMessage) for event in events)
    return failure


def assert_clean(failure: EngineFailed, key: str) -> None:
    assert key not in failure.message
    assert "Provider says" not in failure.message


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        (401, "engine_auth", "the model server refused the credentials (HTTP 401)"),
        (403, "engine_auth", "the model server refused the credentials (HTTP 403)"),
        (400, "engine_bad_response", "the model server refused the request (HTTP 400)"),
        (404, "engine_bad_response", "the model server refused the request (HTTP 404)"),
    ],
)
def test_a_refused_request_fails_typed_at_once_without_retries(
    fake: FakeOpenAI, api_key: str, status: int, reason: str, message: str
) -> None:
    fake.script(echoing(status, api_key))
    failure = failure_of(run(engine_at(fake.url, api_key_env=KEY_ENV, max_retries=2), HELLO))
    assert (failure.reason, failure.message) == (reason, message)
    assert_clean(failure, api_key)
    assert len(fake.received) == 1


def test_a_server_error_is_retried_then_fails_as_unavailable(
    fake: FakeOpenAI, api_key: str
) -> None:
    fake.script(*(echoing(500, api_key, **{"retry-after-ms": "10"}) for _ in range(3)))
    failure = failure_of(run(engine_at(fake.url, api_key_env=KEY_ENV, max_retries=2), HELLO))
    assert failure == EngineFailed(
        reason="engine_unavailable", message="the model server failed (HTTP 500)"
    )
    assert_clean(failure, api_key)
    assert len(fake.received) == 3


def test_rate_limiting_is_retried_after_the_wait_retry_after_asks(
    fake: FakeOpenAI, api_key: str
) -> None:
    fake.script(echoing(429, api_key, **{"Retry-After": "1"}), text_reply("at last"))
    events = run(engine_at(fake.url, api_key_env=KEY_ENV, max_retries=1), HELLO)
    assert AssistantMessage(text="at last") in events
    first, second = fake.received
    assert second.at - first.at >= 1.0


def test_rate_limiting_that_outlasts_the_retries_fails_as_rate_limited(
    fake: FakeOpenAI, api_key: str
) -> None:
    fake.script(*(echoing(429, api_key, **{"retry-after-ms": "10"}) for _ in range(2)))
    failure = failure_of(run(engine_at(fake.url, api_key_env=KEY_ENV, max_retries=1), HELLO))
    assert failure == EngineFailed(
        reason="engine_rate_limited",
        message="the model server is rate limiting requests (HTTP 429)",
    )
    assert_clean(failure, api_key)
    assert len(fake.received) == 2


def test_a_malformed_stream_is_a_bad_response(fake: FakeOpenAI) -> None:
    fake.script(Reply(events=[chunk("ok"), "{this is not json"]))
    events = run(engine_at(fake.url), HELLO)
    assert events == [
        TextDelta(text="ok"),
        EngineFailed(
            reason="engine_bad_response", message="the model server sent a malformed stream"
        ),
    ]


def test_an_error_event_mid_stream_is_a_bad_response_without_its_text(
    fake: FakeOpenAI, api_key: str
) -> None:
    fake.script(Reply(events=[chunk("ok"), {"error": {"message": f"Provider says: {api_key}"}}]))
    failure = failure_of(run(engine_at(fake.url, api_key_env=KEY_ENV), HELLO))
    assert failure == EngineFailed(
        reason="engine_bad_response", message="the model server reported an error mid-reply"
    )


def test_a_stream_cut_mid_reply_fails_as_unavailable_and_is_never_retried(
    fake: FakeOpenAI,
) -> None:
    fake.script(Reply(events=[chunk("Hal")], end="drop"), text_reply("never sent"))
    events = run(engine_at(fake.url, max_retries=2), HELLO)
    assert events == [
        TextDelta(text="Hal"),
        EngineFailed(
            reason="engine_unavailable",
            message="the connection to the model server was lost mid-reply",
        ),
    ]
    assert len(fake.received) == 1


def test_a_stalled_stream_fails_as_timeout_after_the_timeout_and_is_never_retried(
    fake: FakeOpenAI,
) -> None:
    fake.script(Reply(events=[chunk("Hal")], end="stall"), text_reply("never sent"))
    started = time.monotonic()
    events = run(engine_at(fake.url, timeout=0.5, max_retries=2), HELLO)
    elapsed = time.monotonic() - started
    assert events == [
        TextDelta(text="Hal"),
        EngineFailed(
            reason="engine_timeout",
            message="the model server sent nothing more for 0.5 s mid-reply",
        ),
    ]
    assert 0.5 <= elapsed < 3
    assert len(fake.received) == 1


@pytest.fixture
def silent_server() -> Iterator[tuple[str, socket.socket]]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", listener


def test_a_server_that_never_answers_fails_as_timeout_after_each_attempt(
    silent_server: tuple[str, socket.socket],
) -> None:
    url, _ = silent_server
    started = time.monotonic()
    failure = failure_of(run(engine_at(url, timeout=0.3, max_retries=1), HELLO))
    assert failure == EngineFailed(
        reason="engine_timeout",
        message="the model server did not answer within 0.3 s",
    )
    # two attempts of 0.3 s and one backoff (0.5 s to 1 s with jitter) between them
    assert 0.6 <= time.monotonic() - started < 5


def test_a_refused_connection_is_unavailable() -> None:
    failure = failure_of(
        run(engine_at(f"http://127.0.0.1:{free_loopback_port()}/v1", max_retries=0), HELLO)
    )
    assert failure == EngineFailed(
        reason="engine_unavailable", message="cannot reach the model server"
    )
