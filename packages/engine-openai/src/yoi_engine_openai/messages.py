"""Chat-completions shapes: the request's messages and tools, and the streamed reply assembled.

History messages map one to one. Two rules matter to servers: an assistant message always
carries ``content`` as a string (``""`` when empty, never null: llama.cpp refuses null), and a
tool result that failed (``is_error``) is sent as ``error: <result>``, since chat completions
has no error flag on tool messages.

Tool calls stream as fragments: each names the call's ``index``; the first usually brings the
call's ``id`` and function name, later ones pieces of the JSON arguments. :class:`ReplyAssembly`
joins them by index into :class:`ToolCall` values.
"""

from __future__ import annotations

from typing import Any

import attrs
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from yoi_worker_runtime.engines import (
    AssistantMessage,
    EngineError,
    Message,
    ToolCall,
    ToolSpec,
    Usage,
)

#: The schema sent for a tool that declares no parameters (some servers require an object).
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def chat_message(message: Message) -> ChatCompletionMessageParam:
    """One history message as chat completions expects it."""
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    if message.role == "tool":
        content = f"error: {message.content}" if message.is_error else message.content
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content}
    if not message.tool_calls:
        return {"role": "assistant", "content": message.content}
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ],
    }


def chat_tool(tool: ToolSpec) -> ChatCompletionToolParam:
    """A tool as a chat-completions function tool with its JSON Schema parameters."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": dict(tool.parameters) if tool.parameters else NO_PARAMETERS,
        },
    }


@attrs.define
class _PartialCall:
    call_id: str | None = None
    name: str | None = None
    arguments: list[str] = attrs.field(factory=list)


class ReplyAssembly:
    """One streamed reply being assembled: text, tool calls, usage, and whether it finished."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self.usage: Usage | None = None
        #: A choice reported its finish reason: the server ended the reply on purpose.
        self.finished = False

    def add(self, chunk: ChatCompletionChunk) -> str:
        """Take one chunk in; returns the text it adds (possibly empty)."""
        if chunk.usage is not None:
            self.usage = Usage(
                input_tokens=chunk.usage.prompt_tokens, output_tokens=chunk.usage.completion_tokens
            )
        added = []
        for choice in chunk.choices:
            delta = choice.delta
            for piece in (delta.content, delta.refusal):
                if piece:
                    added.append(piece)
            for fragment in delta.tool_calls or ():
                # Some servers leave out the index of a call sent whole in one fragment.
                index = getattr(fragment, "index", None)
                self._add_fragment(
                    len(self._calls) if index is None else index,
                    fragment.id,
                    fragment.function.name if fragment.function else None,
                    fragment.function.arguments if fragment.function else None,
                )
            if choice.finish_reason:
                self.finished = True
        text = "".join(added)
        self._text.append(text)
        return text

    def _add_fragment(
        self, index: int, call_id: str | None, name: str | None, arguments: str | None
    ) -> None:
        call = self._calls.setdefault(index, _PartialCall())
        # The id and name come once; a server that repeats them in every fragment repeats
        # the same value, so the first one wins. Argument pieces are joined in order.
        call.call_id = call.call_id or call_id or None
        call.name = call.name or name or None
        if arguments:
            call.arguments.append(arguments)

    def message(self, call_id_prefix: str) -> AssistantMessage:
        """The assembled message. A call the server left without an id gets
        ``<call_id_prefix>-<index>``; one without a name is a bad response."""
        calls = []
        for index, partial in sorted(self._calls.items()):
            if not partial.name:
                raise EngineError(
                    "engine_bad_response", f"the server sent tool call {index} without a name"
                )
            calls.append(
                ToolCall(
                    call_id=partial.call_id or f"{call_id_prefix}-{index}",
                    name=partial.name,
                    # A call without arguments means none; "{}" is what a schema check expects.
                    arguments="".join(partial.arguments) or "{}",
                )
            )
        return AssistantMessage(text="".join(self._text), tool_calls=tuple(calls))
