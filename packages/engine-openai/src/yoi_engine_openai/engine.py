"""The ``openai`` engine: one streamed chat completion per step, through the official library.

Retries are the library's own (``max_retries`` attempts after the first, backing off
exponentially from 0.5 s to 8 s with jitter, or waiting what a ``Retry-After`` header asks, up to
a minute; recent releases wait up to two and do not retry a longer wait). The library retries in
``chat.completions.create``, which returns as soon as the response headers are in; the stream's
chunks are read afterwards, by this engine, outside any retry loop. So a request is retried only
before its stream starts, never after a chunk arrived.

``timeout`` bounds connecting and every read, so a stream that stalls fails with
``engine_timeout``. Cancelling or closing a step closes the HTTP response at once: the server
sees the disconnect and stops generating.

The key is read from the ``api_key_env`` variable when the engine first connects (a server that
needs no key, such as llama.cpp, gets a placeholder when ``api_key_env`` is unset).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletionChunk
from yoi_worker_runtime.engines import (
    EngineError,
    EngineEvent,
    EngineFailed,
    EngineSettings,
    StepRequest,
    TextDelta,
)

from yoi_engine_openai.failures import failure_of
from yoi_engine_openai.messages import ReplyAssembly, chat_message, chat_tool
from yoi_engine_openai.options import OpenAIOptions, check_settings, parse_options

#: Sent when ``api_key_env`` is unset: the library insists on some key; keyless servers ignore it.
PLACEHOLDER_KEY = "no-key"


class OpenAIEngine:
    """See the module docstring."""

    def __init__(self, settings: EngineSettings, options: OpenAIOptions) -> None:
        self.settings = settings
        self.options = options
        self._client: AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def _api_key(self) -> str:
        name = self.settings.api_key_env
        if name is None:
            return PLACEHOLDER_KEY
        key = os.environ.get(name)
        if not key:
            raise EngineError(
                "engine_auth",
                f"the environment variable {name} (the profile's api_key_env) is unset",
            )
        return key

    def _client_for_loop(self) -> AsyncOpenAI:
        """The client of the running event loop. Its pooled connections belong to that loop, so
        a step on another loop gets a client of its own (the old one's loop is gone)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = AsyncOpenAI(
                api_key=self._api_key(),
                base_url=self.settings.base_url,
                timeout=self.settings.timeout,
                max_retries=self.settings.max_retries,
            )
            self._client_loop = loop
        return self._client

    def _optional_arguments(self, request: StepRequest) -> dict[str, Any]:
        """The request's optional parameters; a parameter left unset is not sent at all."""
        settings, options = self.settings, self.options
        arguments: dict[str, Any] = {}
        if settings.temperature is not None:
            arguments["temperature"] = settings.temperature
        if settings.max_output_tokens is not None:
            arguments["max_tokens"] = settings.max_output_tokens
        if options.stop is not None:
            arguments["stop"] = options.stop
        if options.extra_body:
            arguments["extra_body"] = dict(options.extra_body)
        if request.tools:
            arguments["tools"] = [chat_tool(tool) for tool in request.tools]
            tool_choice = options.tool_choice
            if options.forces_a_call and request.step > 0:
                tool_choice = None  # forcing applies to the first step only (see options)
            if tool_choice is not None:
                forced = options.forced_tool
                if forced is not None and forced not in {tool.name for tool in request.tools}:
                    raise EngineError(
                        "engine_bad_response",
                        f"the profile's tool_choice forces tool {forced!r}, "
                        "which this Worker does not have",
                    )
                arguments["tool_choice"] = tool_choice
        return arguments

    async def run_step(self, request: StepRequest) -> AsyncIterator[EngineEvent]:
        try:
            client = self._client_for_loop()
            optional = self._optional_arguments(request)
        except EngineError as error:
            yield EngineFailed(reason=error.reason, message=error.message)
            return
        timeout = self.settings.timeout
        try:
            stream: AsyncStream[ChatCompletionChunk] = await client.chat.completions.create(
                model=self.settings.model or "",
                messages=[chat_message(message) for message in request.messages],
                stream=True,
                stream_options={"include_usage": True},
                **optional,
            )
        except openai.APIError as error:  # the library wraps every failure before a stream
            yield failure_of(error, streaming=False, timeout=timeout)
            return
        reply = ReplyAssembly()
        try:
            while True:
                try:
                    chunk = await anext(stream)
                except StopAsyncIteration:
                    break
                except Exception as error:  # older openai releases let HTTP errors escape here
                    yield failure_of(error, streaming=True, timeout=timeout)
                    return
                text = reply.add(chunk)
                if text:
                    yield TextDelta(text=text)
        finally:
            # On cancel or close too: dropping the connection tells the server to stop.
            await stream.close()
        if not reply.finished:
            yield EngineFailed(
                reason="engine_unavailable",
                message="the model server ended the stream before the reply was complete",
            )
            return
        try:
            message = reply.message(call_id_prefix=f"call-{request.turn_id}-{request.step}")
        except EngineError as error:
            yield EngineFailed(reason=error.reason, message=error.message)
            return
        yield message
        if reply.usage is not None:
            yield reply.usage

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.close()


def create_openai_engine(settings: EngineSettings) -> OpenAIEngine:
    """Check the settings and build the engine; nothing connects until the first step."""
    check_settings(settings)
    return OpenAIEngine(settings, parse_options(settings.options))
