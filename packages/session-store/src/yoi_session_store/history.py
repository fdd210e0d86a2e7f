"""Backend-independent operations over a :class:`~yoi_session_store.contract.SessionStore`.

Replay turns a segment's entries into the state of the conversation; the helpers create
segments, restore, fork, and append with an automatic fork when another writer got there first.
Everything here uses only the contract, so it works the same on every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from yoi_session_store.contract import SessionStore
from yoi_session_store.errors import InvalidEntryError, UnknownTurnError
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id
from yoi_session_store.model import (
    SCHEMA_VERSION,
    AnyInputPart,
    AnyItem,
    AssistantItem,
    ConfigChanged,
    Entry,
    Extension,
    FileRefPart,
    Invoke,
    KnowledgeRefPart,
    LlmUsage,
    MessageItem,
    PastePart,
    PausedTurnAbandoned,
    RequestConfig,
    RunCompleted,
    RunErrored,
    SegmentOrigin,
    SegmentStart,
    SystemItem,
    TextContent,
    TextPart,
    ToolResult,
    TurnEnd,
    UnknownRecord,
    UserInput,
    WorkflowInvokePart,
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.frozen
class SegmentRef:
    """Names one segment: the session it belongs to and its own id."""

    session_id: SessionId
    segment_id: SegmentId


@attrs.define
class SessionState:
    """The conversation a segment describes, as replay rebuilds it."""

    session_id: SessionId | None = None
    system_prompt: str | None = None
    config: RequestConfig = attrs.field(factory=RequestConfig)
    history: list[AnyItem] = attrs.field(factory=list)
    #: The raw parts of every ``user_input``, in order (history holds them flattened).
    user_inputs: list[tuple[AnyInputPart, ...]] = attrs.field(factory=list)
    turn_count: int = 0
    interrupted: bool = False
    usage: list[LlmUsage] = attrs.field(factory=list)
    extensions: list[tuple[str, Any]] = attrs.field(factory=list)
    #: Every entry replayed, of whatever kind (the writer's tally for conflict detection).
    entries_count: int = 0
    forked_from: SegmentOrigin | None = None
    compacted_from: SegmentOrigin | None = None
    schema_version: int = SCHEMA_VERSION


def flatten_input(parts: Iterable[AnyInputPart]) -> str:
    """User input as the model sees it: text verbatim, ``@path``, ``#slug``, ``/slug``."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, TextPart | PastePart):
            out.append(part.content)
        elif isinstance(part, FileRefPart):
            out.append("@" + part.path)
        elif isinstance(part, KnowledgeRefPart):
            out.append("#" + part.slug)
        elif isinstance(part, WorkflowInvokePart):
            out.append("/" + part.slug)
    return "".join(out)


def _segment_start(state: SessionState, entry: SegmentStart) -> None:
    state.session_id = entry.session_id
    state.system_prompt = entry.system_prompt
    state.config = entry.config
    state.history = list(entry.history)
    state.forked_from = entry.forked_from
    state.compacted_from = entry.compacted_from
    state.schema_version = entry.schema_version


def _user_input(state: SessionState, entry: UserInput) -> None:
    parts = entry.segments
    if len(parts) == 1 and type(parts[0]) is TextPart:  # the usual case: just text
        text = parts[0].content
    else:
        text = flatten_input(parts)
    state.history.append(MessageItem("user", (TextContent(text),)))
    state.user_inputs.append(entry.segments)


def _item(state: SessionState, entry: AssistantItem | ToolResult) -> None:
    state.history.append(entry.item)


def _system_item(state: SessionState, entry: SystemItem) -> None:
    item = entry.item
    body = item.fields.get("body") if isinstance(item, UnknownRecord) else item.body
    if isinstance(body, str):
        state.history.append(MessageItem("system", (TextContent(body),)))


def _turn_end(state: SessionState, entry: TurnEnd) -> None:
    state.turn_count = entry.turn_count


def _run_end(state: SessionState, entry: RunCompleted | RunErrored) -> None:
    state.interrupted = entry.interrupted


def _abandoned(state: SessionState, entry: PausedTurnAbandoned) -> None:
    state.interrupted = False


def _config(state: SessionState, entry: ConfigChanged) -> None:
    state.config = entry.config


def _usage(state: SessionState, entry: LlmUsage) -> None:
    state.usage.append(entry)


def _extension(state: SessionState, entry: Extension) -> None:
    state.extensions.append((entry.domain, entry.payload))


def _ignore(state: SessionState, entry: Any) -> None:
    return None


_APPLY: dict[type[Any], Callable[[SessionState, Any], None]] = {
    SegmentStart: _segment_start,
    Invoke: _ignore,
    UserInput: _user_input,
    AssistantItem: _item,
    ToolResult: _item,
    SystemItem: _system_item,
    TurnEnd: _turn_end,
    RunCompleted: _run_end,
    RunErrored: _run_end,
    PausedTurnAbandoned: _abandoned,
    ConfigChanged: _config,
    LlmUsage: _usage,
    Extension: _extension,
    UnknownRecord: _ignore,  # a newer kind: counted, kept on disk, no effect here
}


def apply_entry(state: SessionState, entry: Entry) -> None:
    """Apply one entry to a state (in place)."""
    _APPLY[type(entry)](state, entry)
    state.entries_count += 1


def replay(entries: Iterable[Entry], state: SessionState | None = None) -> SessionState:
    """The state after ``entries`` (starting from ``state``, or empty)."""
    state = SessionState() if state is None else state
    apply = _APPLY
    # The most frequent kinds are applied inline (same effect as their ``_APPLY`` function,
    # without a call per entry); every other kind goes through the table.
    add_item = state.history.append
    add_usage = state.usage.append
    count = 0
    each: Iterable[Any] = entries  # narrowed by hand below, through ``kind``
    for count, entry in enumerate(each, 1):  # noqa: B007 - count is used after the loop
        kind = type(entry)
        if kind is AssistantItem or kind is ToolResult:
            add_item(entry.item)
        elif kind is Invoke:
            pass
        elif kind is TurnEnd:
            state.turn_count = entry.turn_count
        elif kind is RunCompleted:
            state.interrupted = entry.interrupted
        elif kind is LlmUsage:
            add_usage(entry)
        else:
            apply[kind](state, entry)
            if kind is SegmentStart:  # it replaces the history list
                add_item = state.history.append
    state.entries_count += count
    return state


def restore(store: SessionStore, session: SessionId, segment: SegmentId) -> SessionState:
    """Read a segment and replay it."""
    return replay(store.read_all(session, segment))


def _start(
    session: SessionId,
    state: SessionState,
    *,
    forked_from: SegmentOrigin | None = None,
    compacted_from: SegmentOrigin | None = None,
    ts: int | None = None,
) -> SegmentStart:
    return SegmentStart(
        ts=now_ms() if ts is None else ts,
        session_id=session,
        system_prompt=state.system_prompt,
        config=state.config,
        history=tuple(state.history),
        forked_from=forked_from,
        compacted_from=compacted_from,
    )


def create_session(
    store: SessionStore,
    *,
    system_prompt: str | None,
    config: RequestConfig | None = None,
    history: Sequence[AnyItem] = (),
    ts: int | None = None,
) -> SegmentRef:
    """Start a new conversation: a new session with its first segment."""
    session, segment = new_session_id(), new_segment_id()
    state = SessionState(
        system_prompt=system_prompt, config=config or RequestConfig(), history=list(history)
    )
    store.create_segment(session, segment, [_start(session, state, ts=ts)])
    return SegmentRef(session, segment)


def create_compacted_segment(
    store: SessionStore,
    session: SessionId,
    from_segment: SegmentId,
    *,
    history: Sequence[AnyItem],
    system_prompt: str | None,
    config: RequestConfig,
    at_turn_index: int,
    ts: int | None = None,
) -> SegmentRef:
    """A new segment in the same session holding a compacted history of ``from_segment``."""
    segment = new_segment_id()
    state = SessionState(system_prompt=system_prompt, config=config, history=list(history))
    origin = SegmentOrigin(from_segment, at_turn_index)
    start = _start(session, state, compacted_from=origin, ts=ts)
    store.create_segment(session, segment, [start])
    return SegmentRef(session, segment)


def fork(store: SessionStore, session: SessionId, segment: SegmentId) -> SegmentRef:
    """A detached copy: a new session seeded with the segment's replayed state, no lineage."""
    state = restore(store, session, segment)
    new_session, new_segment = new_session_id(), new_segment_id()
    store.create_segment(new_session, new_segment, [_start(new_session, state)])
    return SegmentRef(new_session, new_segment)


def fork_at(store: SessionStore, session: SessionId, segment: SegmentId, turn: int) -> SegmentRef:
    """A new segment in the same session seeded with the state at the end of turn ``turn``.

    ``turn`` is the ``turn_count`` of a ``turn_end`` in the segment; 0 means the segment's
    start, before any turn. A turn the segment does not contain raises
    :class:`UnknownTurnError` rather than forking somewhere else.
    """
    entries = store.read_all(session, segment)
    end = 1 if turn == 0 else None
    if turn > 0:
        for index, entry in enumerate(entries):
            if isinstance(entry, TurnEnd) and entry.turn_count == turn:
                end = index + 1
                break
    if end is None or turn < 0:
        turns = [e.turn_count for e in entries if isinstance(e, TurnEnd)]
        raise UnknownTurnError(
            f"segment {segment} has no turn {turn} (turns: {turns or 'none'}; 0 = its start)"
        )
    state = replay(entries[:end])
    new_segment = new_segment_id()
    origin = SegmentOrigin(segment, turn)
    store.create_segment(session, new_segment, [_start(session, state, forked_from=origin)])
    return SegmentRef(session, new_segment)


@attrs.frozen
class AppendResult:
    """Where an entry went: the original segment, or a fork made because of a conflict."""

    ref: SegmentRef
    forked: bool
    #: Entry count of ``ref``'s segment after the append.
    count: int


def append_or_fork(
    store: SessionStore,
    ref: SegmentRef,
    entry: Entry,
    *,
    state: SessionState,
    ts: int | None = None,
) -> AppendResult:
    """Append if the segment still holds exactly the entries ``state`` has seen.

    The count check happens inside the backend's lock (:meth:`SessionStore.append_if_count`),
    so no other writer can slip in between. If another writer appended meanwhile, the entry
    goes to a new segment of the same session, seeded from ``state`` and marked
    ``forked_from`` the original at ``state.turn_count``. ``state`` is not modified.
    """
    if isinstance(entry, SegmentStart):
        raise InvalidEntryError("segment_start cannot be appended to an existing segment")
    if store.append_if_count(ref.session_id, ref.segment_id, entry, state.entries_count):
        return AppendResult(ref, False, state.entries_count + 1)
    new_segment = new_segment_id()
    origin = SegmentOrigin(ref.segment_id, state.turn_count)
    start = _start(ref.session_id, state, forked_from=origin, ts=ts)
    store.create_segment(ref.session_id, new_segment, [start, entry])
    return AppendResult(SegmentRef(ref.session_id, new_segment), True, 2)


class SessionWriter:
    """The one writer of a conversation: keeps its state and forks on conflict.

    ``append`` writes through :func:`append_or_fork`; after a conflict the writer continues on
    the forked segment (``ref`` changes), with its own view of the conversation intact.
    """

    def __init__(self, store: SessionStore, ref: SegmentRef, state: SessionState) -> None:
        self.store = store
        self.ref = ref
        self.state = state

    @classmethod
    def create(
        cls,
        store: SessionStore,
        *,
        system_prompt: str | None,
        config: RequestConfig | None = None,
        history: Sequence[AnyItem] = (),
    ) -> SessionWriter:
        ref = create_session(store, system_prompt=system_prompt, config=config, history=history)
        return cls(store, ref, restore(store, ref.session_id, ref.segment_id))

    @classmethod
    def open(cls, store: SessionStore, session: SessionId, segment: SegmentId) -> SessionWriter:
        return cls(store, SegmentRef(session, segment), restore(store, session, segment))

    def append(self, entry: Entry) -> AppendResult:
        result = append_or_fork(self.store, self.ref, entry, state=self.state)
        if result.forked:
            # The fork starts from this writer's own view, as a fresh segment.
            self.state = attrs.evolve(
                self.state,
                history=list(self.state.history),
                entries_count=1,
                forked_from=SegmentOrigin(self.ref.segment_id, self.state.turn_count),
                compacted_from=None,
                schema_version=SCHEMA_VERSION,
            )
            self.ref = result.ref
        apply_entry(self.state, entry)
        return result
