"""How Runtime state maps onto session entries and Pod records (pure functions, no I/O).

Every entry the Runtime writes into a session carries a marker in the extra field
``yoi_runtime``: ``{"runtime_id": ..., "event_id": ...}`` (plus ``status`` and ``reason`` on
lifecycle entries, ``turn_id`` on a turn's entries, ``outcome`` and ``reason`` on a turn's end,
``tool_name`` on a tool result). Other tools keep unknown fields, so the marker survives
rewrites, and it is what lets a reopen tell committed entries from ones an interrupted write
left behind.

- A Worker's transcript segment: ``segment_start``; ``user_input`` (one ``text`` part) for user
  input; ``system_item`` holding a ``notification`` (``body`` = ``message`` = the text) for
  system input; for each turn ``invoke`` when it starts, ``assistant_item`` (a ``message`` with
  the assistant's text, or a ``tool_call``), ``tool_result``, ``llm_usage`` per engine step,
  then ``turn_end`` and ``run_completed`` (completed) or ``run_errored`` (failed; interrupted
  with ``interrupted: true``); ``run_completed`` when the Worker stops (``interrupted: false``)
  or is cancelled (``interrupted: true``), marked with its ``status``; an ``extension`` in
  domain ``yoi.worker.lifecycle`` when a Runtime restores it.
- The Runtime's event log segment: ``segment_start``, then one ``extension`` entry in domain
  ``yoi.runtime.events`` per Runtime change (a *commit*). Its payload is
  ``{"events": [RuntimeEvent...], "workers": [WorkerRecord...]}``: the events of the change and
  the Workers it changed (without ``definition`` except when a Worker is created or restored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from yoi_session_store.ids import SegmentId, SessionId
from yoi_session_store.model import (
    AssistantItem,
    Entry,
    Extension,
    Invoke,
    LlmUsage,
    MessageItem,
    NotificationItem,
    RequestConfig,
    RunCompleted,
    RunErrored,
    SegmentStart,
    SystemItem,
    TextContent,
    TextPart,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
    Trigger,
    TurnEnd,
    UserInput,
)

from yoi_worker_runtime.codec import from_json, to_json
from yoi_worker_runtime.errors import InvalidRequest, StoreCorrupt
from yoi_worker_runtime.model import (
    RuntimeEvent,
    TokenUsage,
    TranscriptEntry,
    TranscriptRole,
    TurnPhase,
    WorkerDefinition,
    WorkerRecord,
    WorkerRef,
)
from yoi_worker_runtime.persistence import (
    HistoryRecord,
    RestoredTurn,
    StepUsage,
    TurnFinished,
    TurnStarted,
    WorkerChange,
)

#: The extra field every Runtime-written session entry carries.
MARKER = "yoi_runtime"
#: Domain of the event log's commit entries.
EVENTS_DOMAIN = "yoi.runtime.events"
#: Domain of lifecycle entries in a Worker's transcript that have no entry kind of their own.
LIFECYCLE_DOMAIN = "yoi.worker.lifecycle"
#: ``resolved_manifest_snapshot["kind"]`` of a Pod that is a Runtime Worker.
SNAPSHOT_KIND = "yoi.worker"
SNAPSHOT_SCHEMA_VERSION = 1
#: Key in a pod-store runtime record's extra fields holding the Runtime's own bookkeeping.
RUNTIME_RECORD_KEY = "worker_runtime"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


# --- time -------------------------------------------------------------------------------------


def parse_time(at: str) -> datetime:
    """A Runtime timestamp (``...T12:00:00.123Z``) as an aware datetime."""
    return datetime.fromisoformat(at)


def millis(at: str) -> int:
    """Milliseconds since the epoch of a Runtime timestamp (exact: both have ms precision)."""
    return (parse_time(at) - _EPOCH) // _MILLISECOND


def format_millis(ms: int) -> str:
    """The Runtime timestamp of ``ms`` milliseconds since the epoch (inverse of :func:`millis`)."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def format_time(moment: datetime) -> str:
    return format_millis((moment - _EPOCH) // _MILLISECOND)


# --- markers ----------------------------------------------------------------------------------


@attrs.frozen
class Marker:
    """Who wrote a session entry and under which event (``event_id`` 0: none)."""

    runtime_id: str
    event_id: int
    status: str | None = None
    reason: str | None = None
    turn_id: str | None = None
    #: A tool result's tool name, and a turn end's outcome.
    tool_name: str | None = None
    outcome: str | None = None


def marker_fields(runtime_id: str, event_id: int, **more: Any) -> Mapping[str, Any]:
    body: dict[str, Any] = {"runtime_id": runtime_id, "event_id": event_id}
    body.update({key: value for key, value in more.items() if value is not None})
    return {MARKER: body}


def marker_of(entry: Entry) -> Marker | None:
    extra = getattr(entry, "extra_fields", None)
    if not extra:
        return None
    body = extra.get(MARKER)
    if not isinstance(body, dict):
        return None
    runtime_id, event_id = body.get("runtime_id"), body.get("event_id")
    if type(runtime_id) is not str or type(event_id) is not int:
        return None

    def text(key: str) -> str | None:
        value = body.get(key)
        return value if isinstance(value, str) else None

    return Marker(
        runtime_id,
        event_id,
        status=text("status"),
        reason=text("reason"),
        turn_id=text("turn_id"),
        tool_name=text("tool_name"),
        outcome=text("outcome"),
    )


# --- segment starts ---------------------------------------------------------------------------


def segment_start(session: SessionId, at: str, **marker: Any) -> SegmentStart:
    return SegmentStart(
        ts=millis(at),
        session_id=session,
        system_prompt=None,
        config=RequestConfig(),
        history=(),
        extra_fields={MARKER: marker},
    )


# --- transcript entries -----------------------------------------------------------------------


def transcript_entry(runtime_id: str, entry: TranscriptEntry) -> Entry:
    """The session entry of a transcript item: ``user_input``, a ``system_item``
    notification, an ``assistant_item`` (a message or a tool call) or a ``tool_result``."""
    ts = millis(entry.at)
    extra = marker_fields(
        runtime_id,
        entry.event_id,
        turn_id=entry.turn_id,
        tool_name=entry.tool_name if entry.role == "tool_result" else None,
    )
    if entry.role == "user":
        return UserInput(ts=ts, segments=(TextPart(content=entry.content),), extra_fields=extra)
    if entry.role == "system":
        item = NotificationItem(body=entry.content, message=entry.content)
        return SystemItem(ts=ts, item=item, extra_fields=extra)
    if entry.role == "assistant":
        message = MessageItem(role="assistant", content=(TextContent(text=entry.content),))
        return AssistantItem(ts=ts, item=message, extra_fields=extra)
    if entry.role == "tool_call":
        call = ToolCallItem(
            call_id=entry.call_id or "", name=entry.tool_name or "", arguments=entry.content
        )
        return AssistantItem(ts=ts, item=call, extra_fields=extra)
    result = ToolResultItem(
        call_id=entry.call_id or "",
        summary=entry.content[:200],
        content=entry.content,
        is_error=bool(entry.is_error),
    )
    return ToolResult(ts=ts, item=result, extra_fields=extra)


def history_entry(runtime_id: str, record: HistoryRecord, event: RuntimeEvent) -> Entry:
    """The session entry of one record of a WorkerChange (``event``: the change's last)."""
    if isinstance(record, TranscriptEntry):
        return transcript_entry(runtime_id, record)
    ts = millis(event.at)
    if isinstance(record, TurnStarted):
        extra = marker_fields(runtime_id, event.id, turn_id=record.turn_id)
        trigger: Trigger = "user_send" if record.trigger == "user" else "notify"
        return Invoke(ts=ts, trigger=trigger, extra_fields=extra)
    if isinstance(record, StepUsage):
        extra = marker_fields(runtime_id, event.id, turn_id=record.turn_id)
        return LlmUsage(
            ts=ts,
            history_len=0,
            input_total_tokens=record.usage.input_tokens,
            cache_read_tokens=0,
            cache_write_tokens=0,
            output_tokens=record.usage.output_tokens,
            extra_fields=extra,
        )
    raise AssertionError(f"not a single-entry record: {record!r}")  # TurnFinished: turn_end_entries


def turn_end_entries(runtime_id: str, record: TurnFinished, event: RuntimeEvent) -> list[Entry]:
    """A turn's end: ``turn_end`` (for a turn that started), then ``run_completed`` (completed)
    or ``run_errored`` (failed, or interrupted with ``interrupted`` true)."""
    ts = millis(event.at)
    extra = marker_fields(
        runtime_id, event.id, turn_id=record.turn_id, outcome=record.outcome, reason=record.reason
    )
    entries: list[Entry] = []
    if record.started:
        entries.append(TurnEnd(ts=ts, turn_count=record.turn_count, extra_fields=extra))
    if record.outcome == "completed":
        entries.append(
            RunCompleted(ts=ts, interrupted=False, result="finished", extra_fields=extra)
        )
    else:
        interrupted = record.outcome == "interrupted"
        message = record.reason or record.outcome
        entries.append(
            RunErrored(ts=ts, interrupted=interrupted, message=message, extra_fields=extra)
        )
    return entries


def change_entries(runtime_id: str, change: WorkerChange) -> list[Entry]:
    """Every session entry a WorkerChange appends to the Worker's transcript, in order."""
    last = change.events[-1]
    entries: list[Entry] = []
    for record in change.records:
        if isinstance(record, TurnFinished):
            entries += turn_end_entries(runtime_id, record, last)
        else:
            entries.append(history_entry(runtime_id, record, last))
    return entries


def item_of(entry: Entry) -> tuple[TranscriptRole, str, dict[str, Any]] | None:
    """Role, text and item fields of a transcript item's entry, or None for any other entry."""
    if isinstance(entry, UserInput):
        parts = entry.segments
        if parts and all(isinstance(part, TextPart) for part in parts):
            return "user", "".join(part.content for part in parts if isinstance(part, TextPart)), {}
        return None
    if isinstance(entry, SystemItem) and isinstance(entry.item, NotificationItem):
        return "system", entry.item.body, {}
    if isinstance(entry, AssistantItem):
        item = entry.item
        if isinstance(item, MessageItem) and item.role == "assistant":
            texts = [part.text for part in item.content if isinstance(part, TextContent)]
            return "assistant", "".join(texts), {}
        if isinstance(item, ToolCallItem):
            return "tool_call", item.arguments, {"call_id": item.call_id, "tool_name": item.name}
        return None
    if isinstance(entry, ToolResult) and isinstance(entry.item, ToolResultItem):
        result = entry.item
        fields: dict[str, Any] = {"call_id": result.call_id, "is_error": result.is_error or None}
        return (
            "tool_result",
            result.content if result.content is not None else result.summary,
            fields,
        )
    return None


def status_entry(runtime_id: str, worker: WorkerRecord, event: RuntimeEvent) -> Entry:
    """``run_completed`` for a Worker that stopped (or, interrupted, was cancelled)."""
    return RunCompleted(
        ts=millis(event.at),
        interrupted=worker.status == "cancelled",
        result="finished",
        extra_fields=marker_fields(
            runtime_id, event.id, status=worker.status, reason=worker.status_reason
        ),
    )


def restored_entry(runtime_id: str, event: RuntimeEvent) -> Entry:
    return Extension(
        ts=millis(event.at),
        domain=LIFECYCLE_DOMAIN,
        payload={"event": event.kind, "message": event.message},
        extra_fields=marker_fields(runtime_id, event.id),
    )


def transcript_of(ref: WorkerRef, entries: Sequence[Entry]) -> list[TranscriptEntry]:
    """The Worker's transcript: every Runtime-written transcript item, numbered from 1."""
    found: list[TranscriptEntry] = []
    for entry in entries:
        marker = marker_of(entry)
        if marker is None:
            continue
        item = item_of(entry)
        if item is None:
            continue
        role, content, fields = item
        if role == "tool_result":
            fields["tool_name"] = marker.tool_name
        found.append(
            TranscriptEntry(
                sequence=len(found) + 1,
                worker_ref=ref,
                role=role,
                content=content,
                event_id=marker.event_id,
                at=format_millis(entry.ts),  # type: ignore[union-attr]
                turn_id=marker.turn_id,
                **fields,
            )
        )
    return found


def turns_of(entries: Sequence[Entry]) -> list[RestoredTurn]:
    """The turns a transcript records: accepted by their input, started by ``invoke``, ended
    by ``run_completed`` / ``run_errored``; in the order they were accepted."""
    turns: dict[str, RestoredTurn] = {}
    for entry in entries:
        marker = marker_of(entry)
        if marker is None or marker.turn_id is None:
            continue
        turn_id = marker.turn_id
        if isinstance(entry, UserInput | SystemItem):
            turns.setdefault(turn_id, RestoredTurn(turn_id=turn_id, phase="queued"))
        elif isinstance(entry, Invoke) and turn_id in turns:
            turns[turn_id] = RestoredTurn(turn_id=turn_id, phase="running")
        elif isinstance(entry, RunCompleted | RunErrored) and turn_id in turns:
            phase: TurnPhase = "interrupted"
            if marker.outcome in ("completed", "failed"):
                phase = "completed" if marker.outcome == "completed" else "failed"
            turns[turn_id] = RestoredTurn(turn_id=turn_id, phase=phase, reason=marker.reason)
    return list(turns.values())


def turn_totals(entries: Sequence[Entry]) -> tuple[int, TokenUsage]:
    """How many turns a transcript records as started (``invoke``) and the tokens its steps
    used (``llm_usage``): what a Worker restored from it carries on counting from."""
    started, input_tokens, output_tokens = 0, 0, 0
    for entry in entries:
        if marker_of(entry) is None:
            continue
        if isinstance(entry, Invoke):
            started += 1
        elif isinstance(entry, LlmUsage):
            input_tokens += entry.input_total_tokens
            output_tokens += entry.output_tokens
    return started, TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens)


# --- the event log ----------------------------------------------------------------------------


def worker_json(worker: WorkerRecord, *, with_definition: bool) -> dict[str, Any]:
    body: dict[str, Any] = to_json(worker)
    if not with_definition:
        del body["definition"]
    return body


def commit_entry(events: Sequence[RuntimeEvent], workers: Sequence[dict[str, Any]]) -> Extension:
    """One change of the Runtime as one event-log entry: it appears whole or not at all."""
    return Extension(
        ts=millis(events[-1].at),
        domain=EVENTS_DOMAIN,
        payload={"events": [to_json(event) for event in events], "workers": list(workers)},
    )


@attrs.define
class Replay:
    """What the event log says: the events in order and the latest JSON of each Worker."""

    events: list[RuntimeEvent] = attrs.field(factory=list)
    workers: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: Positions (1-based, in the segment) of entries that are not commits, with their kind.
    ignored: list[tuple[int, str]] = attrs.field(factory=list)


def replay(entries: Sequence[Entry], label: str) -> Replay:
    """Fold the commit entries of an event log; ``label`` names the log in errors."""
    result = Replay()
    for position, entry in enumerate(entries[1:], start=2):
        if not isinstance(entry, Extension) or entry.domain != EVENTS_DOMAIN:
            kind = getattr(entry, "KIND", None) or getattr(entry, "kind", "?")
            result.ignored.append((position, str(kind)))
            continue
        payload = entry.payload
        try:
            if not isinstance(payload, dict):
                raise InvalidRequest("the payload is not an object")
            events = [from_json(RuntimeEvent, item) for item in payload.get("events", ())]
            workers = payload.get("workers", ())
            for body in workers:
                worker_id = body["ref"]["worker_id"]
                result.workers.setdefault(worker_id, {}).update(body)
        except (InvalidRequest, KeyError, TypeError) as exc:
            raise StoreCorrupt(f"{label}, entry {position}: not a valid commit ({exc})") from None
        result.events.extend(events)
    return result


def worker_from_json(body: Mapping[str, Any], label: str) -> WorkerRecord:
    try:
        return from_json(WorkerRecord, dict(body))
    except InvalidRequest as exc:
        raise StoreCorrupt(f"{label}: {exc.detail}") from None


# --- Pod snapshots ----------------------------------------------------------------------------


def snapshot(worker: WorkerRecord) -> dict[str, Any]:
    """The Pod's ``resolved_manifest_snapshot``: what a restore by name rebuilds the Worker from."""
    return {
        "kind": SNAPSHOT_KIND,
        "schema_version": SNAPSHOT_SCHEMA_VERSION,
        "worker_id": worker.ref.worker_id,
        "created_at": worker.created_at,
        "definition": to_json(worker.definition),
    }


def definition_of(value: object) -> tuple[WorkerDefinition, str]:
    """The definition and creation time kept in a Pod snapshot; ValueError says why not."""
    if not isinstance(value, dict) or value.get("kind") != SNAPSHOT_KIND:
        raise ValueError("it holds no yoi Worker definition")
    version = value.get("schema_version")
    if type(version) is not int or version > SNAPSHOT_SCHEMA_VERSION:
        raise ValueError(f"its Worker definition has an unknown schema version {version!r}")
    created_at = value.get("created_at")
    try:
        definition = from_json(WorkerDefinition, value.get("definition"))
        if not isinstance(created_at, str):
            raise InvalidRequest("created_at is missing")
        parse_time(created_at)
    except (InvalidRequest, ValueError) as exc:
        raise ValueError(f"its Worker definition is invalid ({exc})") from None
    return definition, created_at


def ids(active: Any) -> tuple[SessionId, SegmentId]:
    return SessionId(active.session_id), SegmentId(active.segment_id)
