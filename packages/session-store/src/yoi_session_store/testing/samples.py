"""Sample entries for tests and benchmarks: every kind, and realistic conversations."""

from __future__ import annotations

from yoi_session_store.ids import SegmentId, SessionId
from yoi_session_store.model import (
    AssistantItem,
    ConfigChanged,
    Entry,
    Extension,
    FileAttachmentItem,
    FileRefPart,
    InterruptItem,
    Invoke,
    KnowledgeItem,
    KnowledgeRefPart,
    LlmUsage,
    MessageItem,
    NotificationItem,
    PastePart,
    PausedTurnAbandoned,
    PodEventItem,
    ReasoningItem,
    RefusalContent,
    RequestConfig,
    RunCompleted,
    RunErrored,
    SegmentOrigin,
    SegmentStart,
    SystemItem,
    TaskReminderItem,
    TextContent,
    TextPart,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
    TurnEnd,
    UserInput,
    WorkflowInvokePart,
    WorkflowItem,
)

TS = 1_700_000_000_000


def segment_start(
    session: SessionId, *, system_prompt: str | None = "You are helpful.", ts: int = TS
) -> SegmentStart:
    return SegmentStart(
        ts=ts,
        session_id=session,
        system_prompt=system_prompt,
        config=RequestConfig(max_tokens=1024, temperature=0.5, stop_sequences=("END",)),
        history=(MessageItem("user", (TextContent("earlier"),)),),
    )


def every_entry_kind(session: SessionId, parent: SegmentId) -> list[Entry]:
    """One segment's worth of entries using every entry kind, item and part at least once."""
    return [
        SegmentStart(
            ts=TS,
            session_id=session,
            system_prompt=None,
            config=RequestConfig(reasoning="high"),
            history=(
                MessageItem("assistant", (TextContent("hi"), RefusalContent("no"))),
                ReasoningItem("why", summary=("a", "b"), encrypted_content="x", signature="s"),
            ),
            forked_from=SegmentOrigin(parent, 2),
        ),
        Invoke(TS + 1, "user_send"),
        UserInput(
            TS + 2,
            (
                TextPart("look at "),
                FileRefPart("src/main.py"),
                TextPart(" and "),
                KnowledgeRefPart("style"),
                WorkflowInvokePart("review"),
                PastePart("p1", chars=5, lines=1, content="hello"),
            ),
        ),
        AssistantItem(TS + 3, ReasoningItem("thinking")),
        AssistantItem(TS + 4, ToolCallItem("call-1", "read_file", '{"path": "src/main.py"}')),
        ToolResult(TS + 5, ToolResultItem("call-1", "read 3 lines", content="a\nb\nc")),
        ToolResult(TS + 6, ToolResultItem("call-2", "failed", is_error=True)),
        SystemItem(TS + 7, NotificationItem("note: x", message="x")),
        SystemItem(TS + 8, PodEventItem("pod b stopped", event={"pod": "b", "state": "stopped"})),
        SystemItem(TS + 9, FileAttachmentItem("<file>", path="a.txt")),
        SystemItem(TS + 10, KnowledgeItem("<knowledge>", slug="style")),
        SystemItem(TS + 11, WorkflowItem("<workflow>", slug="review")),
        SystemItem(TS + 12, TaskReminderItem("remember the task")),
        SystemItem(TS + 13, InterruptItem("interrupted by user")),
        AssistantItem(TS + 14, MessageItem("assistant", (TextContent("done"),))),
        LlmUsage(TS + 15, 7, 1000, 800, 100, 50),
        TurnEnd(TS + 16, 1),
        RunCompleted(TS + 17, False, "paused"),
        PausedTurnAbandoned(TS + 18),
        ConfigChanged(TS + 19, RequestConfig(max_tokens=10, top_k=3, reasoning=2048)),
        RunErrored(TS + 20, True, "provider timed out"),
        Extension(TS + 21, "acme.audit", {"ok": True, "n": [1, 2, 3]}),
    ]


def turn(text_size: int = 400, *, number: int = 1, ts: int = TS) -> list[Entry]:
    """One realistic turn (~``text_size`` bytes per text field) ending at ``turn_count=number``."""
    text = ("lorem ipsum dolor sit amet " * (text_size // 27 + 1))[:text_size]
    return [
        Invoke(ts, "user_send"),
        UserInput(ts, (TextPart(text),)),
        AssistantItem(ts, ToolCallItem(f"call-{number}", "read_file", '{"path": "a.txt"}')),
        ToolResult(ts, ToolResultItem(f"call-{number}", "read", content=text)),
        AssistantItem(ts, MessageItem("assistant", (TextContent(text),))),
        LlmUsage(ts, 4 * number, 1200, 1000, 0, 200),
        TurnEnd(ts, number),
        RunCompleted(ts, False, "finished"),
    ]
