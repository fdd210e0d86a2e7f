"""Hypothesis: every entry kind round-trips; memory and fs agree under random operations."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, cast

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from yoi_session_store import model as m
from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.backends.memory import MemorySessionStore
from yoi_session_store.contract import SessionStore
from yoi_session_store.errors import SessionStoreError
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id

T = TypeVar("T")

text = st.text(max_size=12)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | ints | floats | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
extras = st.dictionaries(text.map(lambda k: "x_" + k), json_values, max_size=2).map(
    MappingProxyType
)
ids = st.builds(new_segment_id)


def tagged(cls: type[T], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[T]:
    return st.builds(cls, **fields, extra_fields=extras)


def tuples(inner: st.SearchStrategy[T]) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(inner, max_size=3).map(tuple)


unknown = st.builds(
    m.UnknownRecord,
    kind=text.map(lambda k: "future_" + k),
    fields=st.dictionaries(text.filter(lambda k: k != "kind"), json_values, max_size=3),
)
content = tagged(m.TextContent, text=text) | tagged(m.RefusalContent, refusal=text) | unknown
items = st.one_of(
    tagged(
        m.MessageItem,
        role=st.sampled_from(["user", "assistant", "system"]),
        content=tuples(content),
    ),
    tagged(m.ToolCallItem, call_id=text, name=text, arguments=text),
    tagged(
        m.ToolResultItem,
        call_id=text,
        summary=text,
        content=st.none() | text,
        is_error=st.booleans(),
    ),
    tagged(
        m.ReasoningItem,
        text=text,
        summary=st.none() | tuples(text),
        encrypted_content=st.none() | text,
        signature=st.none() | text,
    ),
    unknown,
)
system_items = st.one_of(
    tagged(m.NotificationItem, body=text, message=text),
    tagged(m.PodEventItem, body=text, event=json_values),
    tagged(m.FileAttachmentItem, body=text, path=text),
    tagged(m.KnowledgeItem, body=text, slug=text),
    tagged(m.WorkflowItem, body=text, slug=text),
    tagged(m.TaskReminderItem, body=text, source=text),
    tagged(m.InterruptItem, body=text),
    unknown,
)
parts = st.one_of(
    tagged(m.TextPart, content=text),
    tagged(m.PastePart, id=text, chars=ints, lines=ints, content=text),
    tagged(m.FileRefPart, path=text),
    tagged(m.KnowledgeRefPart, slug=text),
    tagged(m.WorkflowInvokePart, slug=text),
    unknown,
)
configs = tagged(
    m.RequestConfig,
    max_tokens=st.none() | ints,
    temperature=st.none() | floats,
    top_p=st.none() | floats,
    top_k=st.none() | ints,
    stop_sequences=tuples(text),
    reasoning=st.none() | text | ints,
)
origins = st.none() | tagged(m.SegmentOrigin, segment_id=ids, at_turn_index=ints)


def starts(session: st.SearchStrategy[SessionId]) -> st.SearchStrategy[m.SegmentStart]:
    return tagged(
        m.SegmentStart,
        ts=ints,
        session_id=session,
        system_prompt=st.none() | text,
        config=configs,
        history=tuples(items),
        forked_from=origins,
        compacted_from=origins,
    )


appended: st.SearchStrategy[m.Entry] = st.one_of(
    tagged(
        m.Invoke,
        ts=ints,
        trigger=st.sampled_from(["user_send", "notify", "pod_event", "system_reminder", "wakeup"]),
    ),
    tagged(m.UserInput, ts=ints, segments=tuples(parts)),
    tagged(m.AssistantItem, ts=ints, item=items),
    tagged(m.ToolResult, ts=ints, item=items),
    tagged(m.SystemItem, ts=ints, item=system_items),
    tagged(m.TurnEnd, ts=ints, turn_count=ints),
    tagged(
        m.RunCompleted,
        ts=ints,
        interrupted=st.booleans(),
        result=st.sampled_from(["finished", "paused", "limit_reached", "yielded"]),
    ),
    tagged(m.RunErrored, ts=ints, interrupted=st.booleans(), message=text),
    tagged(m.PausedTurnAbandoned, ts=ints),
    tagged(m.ConfigChanged, ts=ints, config=configs),
    tagged(
        m.LlmUsage,
        ts=ints,
        history_len=ints,
        input_total_tokens=ints,
        cache_read_tokens=ints,
        cache_write_tokens=ints,
        output_tokens=ints,
    ),
    tagged(m.Extension, ts=ints, domain=text, payload=json_values),
    unknown,
)
entries = starts(st.builds(new_session_id)) | appended


@given(entries)
def test_every_entry_round_trips(entry: m.Entry) -> None:
    line = m.encode_entry(entry)
    assert b"\n" not in line
    assert line.startswith(b'{"kind":')
    decoded = m.decode_entry(line)
    assert decoded == entry
    assert m.encode_entry(decoded) == line


def test_every_entry_kind_has_a_strategy() -> None:
    kinds = {cls.KIND for cls in m.ENTRY_CLASSES}
    seen: set[str] = set()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(entries)
    def collect(entry: m.Entry) -> None:
        seen.add(getattr(entry, "KIND", "unknown"))

    collect()
    assert kinds <= seen


def _outcome(call: Callable[[], T]) -> T | str:
    try:
        return call()
    except SessionStoreError as exc:
        return type(exc).__name__


class MemoryAndFsAgree(RuleBasedStateMachine):
    """Drive both built-in backends with the same operations and compare what they report."""

    refs = Bundle("refs")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="yoi-agree-"))
        self.stores: list[SessionStore] = [
            MemorySessionStore(),
            FsSessionStore(self.tmp, fsync="never"),
        ]
        self.sessions: list[SessionId] = []

    def teardown(self) -> None:
        for store in self.stores:
            store.close()
        shutil.rmtree(self.tmp)

    def both(self, call: Callable[[SessionStore], Any]) -> Any:
        memory, fs = (_outcome(lambda s=s: call(s)) for s in self.stores)  # type: ignore[misc]
        assert memory == fs
        return memory

    def call(self, method: str, *args: Any) -> Any:
        """Call a store method on both backends; segment listings compare id and size."""
        memory, fs = (_outcome(partial(getattr(s, method), *args)) for s in self.stores)
        if method == "list_segments":
            memory, fs = (
                [(i.segment_id, i.size_bytes) for i in cast(Any, r)] for r in (memory, fs)
            )
        assert memory == fs
        return memory

    @rule(target=refs, start=starts(st.just(SessionId("0" * 36))), same_session=st.booleans())
    def create(self, start: m.SegmentStart, same_session: bool) -> tuple[SessionId, SegmentId]:
        session = self.sessions[-1] if same_session and self.sessions else new_session_id()
        self.sessions.append(session)
        segment = new_segment_id()
        start = attrs.evolve(start, session_id=session)
        self.both(lambda s: s.create_segment(session, segment, [start]))
        return session, segment

    @rule(ref=refs, entry=appended)
    def append(self, ref: tuple[SessionId, SegmentId], entry: m.Entry) -> None:
        self.both(lambda s: s.append(*ref, entry))

    @rule(ref=refs, entry=appended, expected=st.integers(0, 6))
    def append_if_count(
        self, ref: tuple[SessionId, SegmentId], entry: m.Entry, expected: int
    ) -> None:
        self.both(lambda s: s.append_if_count(*ref, entry, expected))

    @rule(ref=refs, keep=st.integers(-1, 6))
    def truncate(self, ref: tuple[SessionId, SegmentId], keep: int) -> None:
        self.both(lambda s: s.truncate(*ref, keep))

    @rule(ref=refs)
    def recreate(self, ref: tuple[SessionId, SegmentId]) -> None:
        start = m.SegmentStart(0, ref[0], None, m.RequestConfig(), ())
        self.both(lambda s: s.create_segment(*ref, [start]))

    @rule(ref=refs)
    def delete(self, ref: tuple[SessionId, SegmentId]) -> None:
        self.both(lambda s: s.delete_session(ref[0]))

    @rule(ref=refs, start=st.integers(0, 5), limit=st.none() | st.integers(0, 3))
    def read(self, ref: tuple[SessionId, SegmentId], start: int, limit: int | None) -> None:
        self.both(lambda s: s.read(*ref, start, limit))

    @invariant()
    def listings_agree(self) -> None:
        self.both(
            lambda s: sorted(
                (i.session_id, i.size_bytes, i.segment_count) for i in s.list_sessions()
            )
        )
        for session in set(self.sessions):
            self.call("list_segments", session)

    @invariant()
    def segments_agree(self) -> None:
        for session in set(self.sessions):
            for info in self.stores[0].list_segments(session):
                self.call("lookup_session_of", info.segment_id)
                self.call("read_entry_count", session, info.segment_id)
                self.call("read_all", session, info.segment_id)


MemoryAndFsAgree.TestCase.settings = settings(
    max_examples=30, stateful_step_count=20, deadline=None
)
TestMemoryAndFsAgree = MemoryAndFsAgree.TestCase
