from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from yoi_worker_runtime.engines import EngineEvent, EngineSettings, StepRequest
from yoi_worker_runtime.engines.testing import collect

sys.path.insert(0, str(Path(__file__).parent))

from fake_openai import FakeOpenAI
from llama_server import LlamaServer, running_server
from yoi_engine_openai.engine import OpenAIEngine, create_openai_engine

#: The environment variable the tests keep their key in, and the key: a server that echoes it
#: back in an error body must not get it into a failure message.
KEY_ENV = "YOI_TEST_OPENAI_KEY"
KEY = "sk-test-4c1f-d0-n0t-l3ak"
LLAMA_URL_ENV = "YOI_TEST_LLAMA_URL"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def engine_at(url: str, **settings: Any) -> OpenAIEngine:
    """An openai engine for ``url``; fast retries and timeouts unless the test says otherwise."""
    settings.setdefault("model", "test-model")
    settings.setdefault("timeout", 10.0)
    return create_openai_engine(EngineSettings(base_url=url, **settings))


def run(engine: OpenAIEngine, request: StepRequest) -> list[EngineEvent]:
    """Every event of one step, on a fresh event loop; the engine's connections are closed
    before that loop ends (a connection belongs to the loop that opened it)."""

    async def step() -> list[EngineEvent]:
        try:
            return await collect(engine.run_step(request))
        finally:
            await engine.aclose()

    return asyncio.run(step())


async def cancel_while_reading(stream: AsyncIterator[EngineEvent]) -> float:
    """Cancel a step as the Runtime does: the task reading the stream is cancelled while it
    waits for the next event, then the stream is closed. Returns when the cancel was sent."""
    reading = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # one turn of the loop: the task starts and blocks on the socket
    cancelled_at = time.monotonic()
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    await stream.aclose()  # type: ignore[attr-defined]
    return cancelled_at


@pytest.fixture(scope="session")
def llama_url() -> Iterator[str]:
    """``$YOI_TEST_LLAMA_URL`` (the ``llm-server`` nox session's server), else one started here."""
    given = os.environ.get(LLAMA_URL_ENV)
    if given:
        yield given
        return
    with running_server() as server:
        yield server.url


@pytest.fixture
def own_llama_server() -> Iterator[LlamaServer]:
    """A llama.cpp server of this test's own, which the test may kill and restart."""
    with running_server() as server:
        yield server
