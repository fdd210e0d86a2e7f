"""The history an engine is sent: a Worker's transcript replayed into chat messages.

Rules, in order:

1. The Worker's intent becomes the first message, a system message (the *task text*).
2. Transcript items are grouped by turn, in the order the turns were accepted; items without a
   turn (input recorded while no engine ran) are groups of their own, in transcript order. Only
   groups up to the current turn are included: inputs queued behind it wait their turn.
3. Within a group: input is a user or system message; an assistant item an assistant message;
   consecutive tool calls join the assistant message before them (one with empty text if there
   is none); a tool result is a tool message.
4. After a turn that was interrupted, a system message says so, so the model knows its previous
   answer was cut short (after a crash, on the next turn).
5. Context budget: when the estimated size (about four characters a token, plus four tokens a
   message) exceeds the profile's ``context_budget``, whole groups are left out, oldest first.
   The task text and the current turn are always kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from yoi_worker_runtime.engines.contract import Message, ToolCall
from yoi_worker_runtime.model import (
    AssistantIntent,
    RoleIntent,
    TaskIntent,
    TranscriptEntry,
    WorkerIntent,
)

INTERRUPTED_NOTE = "The previous turn was interrupted before it finished; its answer is incomplete."


def task_text(intent: WorkerIntent) -> str:
    """The system message a Worker's intent becomes."""
    if isinstance(intent, TaskIntent):
        return f"You are a worker with one task: {intent.objective}"
    if isinstance(intent, RoleIntent):
        text = f"You are a worker in the role of {intent.role}."
        return f"{text} Your purpose: {intent.purpose}" if intent.purpose else text
    assert isinstance(intent, AssistantIntent)
    text = "You are a helpful assistant."
    return f"{text} Your purpose: {intent.purpose}" if intent.purpose else text


def estimate_tokens(message: Message) -> int:
    size = len(message.content) + sum(
        len(call.name) + len(call.arguments) for call in message.tool_calls
    )
    return 4 + size // 4


def _group_messages(items: Sequence[TranscriptEntry]) -> list[Message]:
    messages: list[Message] = []
    for item in items:
        if item.role in ("user", "system"):
            messages.append(Message(role=item.role, content=item.content))
        elif item.role == "assistant":
            messages.append(Message(role="assistant", content=item.content))
        elif item.role == "tool_call":
            call = ToolCall(
                call_id=item.call_id or "", name=item.tool_name or "", arguments=item.content
            )
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                messages[-1] = Message(
                    role="assistant", content=last.content, tool_calls=(*last.tool_calls, call)
                )
            else:
                messages.append(Message(role="assistant", content="", tool_calls=(call,)))
        else:
            messages.append(
                Message(
                    role="tool",
                    content=item.content,
                    tool_call_id=item.call_id,
                    is_error=bool(item.is_error),
                )
            )
    return messages


def build_history(
    intent: WorkerIntent,
    transcript: Sequence[TranscriptEntry],
    *,
    interrupted: Callable[[str], bool],
    current_turn: str,
    budget: int | None,
) -> tuple[Message, ...]:
    """The messages for a step of ``current_turn``; see the module docstring for the rules.

    A turn's input is its first item and inputs are recorded as they are accepted, so the
    order in which turns first appear in the transcript is the order they were accepted.
    ``interrupted`` tells whether a turn ended interrupted.
    """
    groups: dict[str, list[TranscriptEntry]] = {}
    for item in transcript:
        key = item.turn_id if item.turn_id is not None else f"#{item.sequence}"
        groups.setdefault(key, []).append(item)
    ordered: list[tuple[str | None, list[Message]]] = []
    for key, items in groups.items():  # dicts keep first-appearance order
        turn_id = items[0].turn_id
        messages = _group_messages(items)
        if turn_id is not None and turn_id != current_turn and interrupted(turn_id):
            messages.append(Message(role="system", content=INTERRUPTED_NOTE))
        ordered.append((turn_id, messages))
        if key == current_turn:
            break
    head = Message(role="system", content=task_text(intent))
    if budget is not None:
        total = estimate_tokens(head) + sum(
            estimate_tokens(message) for _, messages in ordered for message in messages
        )
        while total > budget and len(ordered) > 1:
            _, dropped = ordered.pop(0)
            total -= sum(estimate_tokens(message) for message in dropped)
    return (head, *(message for _, messages in ordered for message in messages))
