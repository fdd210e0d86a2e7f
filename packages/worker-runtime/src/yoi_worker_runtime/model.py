"""The Runtime's data model: requests, views, acks, events and the records persistence stores.

Every class is a frozen attrs class; ``yoi_worker_runtime.codec`` turns them into JSON and back,
and ``yoi_worker_runtime.schema`` derives their JSON Schema, so these definitions are the one
source of truth for the Python API, the REST bodies and the OpenAPI document.

JSON conventions: a field whose default is ``None`` is left out when it is ``None`` (and accepted
as missing or ``null``); a required field that may be ``null`` (``next_start``) is always present.
Lists are tuples here and arrays in JSON. Timestamps are RFC 3339 UTC strings with milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import attrs

from yoi_worker_runtime.codec import NON_BLANK_PATTERN
from yoi_worker_runtime.errors import InvalidWorkerId
from yoi_worker_runtime.ids import WORKER_NAME_PATTERN, validate_worker_name
from yoi_worker_runtime.timestamps import TIMESTAMP_PATTERN

RuntimeStatus: TypeAlias = Literal["running", "stopped"]
WorkerStatus: TypeAlias = Literal["running", "stopped", "cancelled"]
InputKind: TypeAlias = Literal["user", "system"]
#: What a transcript item is: input, the assistant's message, a tool call or a tool's result.
TranscriptRole: TypeAlias = Literal["user", "system", "assistant", "tool_call", "tool_result"]
#: What an input does when the Worker is already running a turn.
OnBusy: TypeAlias = Literal["enqueue", "reject", "interrupt"]
TurnState: TypeAlias = Literal["idle", "running"]
#: Where a turn is: waiting behind another, running, or ended one of three ways.
TurnPhase: TypeAlias = Literal["queued", "running", "completed", "failed", "interrupted"]
#: ``memory``: the in-process MemoryPersistence; ``store``: kept in a Pod store and a session
#: store (the ``fs-store`` extra, on any store backend).
Backend: TypeAlias = Literal["memory", "store"]
Severity: TypeAlias = Literal["info", "warning", "error"]
EventKind: TypeAlias = Literal[
    "runtime_started",
    "runtime_stopped",
    "worker_created",
    "worker_restored",
    "worker_adopted",
    "worker_input_accepted",
    "worker_stopped",
    "worker_cancelled",
    "turn_started",
    "turn_completed",
    "turn_failed",
    "turn_interrupted",
    "tool_started",
    "tool_finished",
]


def _schema(
    description: str | None = None,
    *,
    check: Callable[[object], str | None] | None = None,
    **keywords: Any,
) -> dict[str, Any]:
    """Field metadata: extra JSON Schema keywords (the codec enforces them too) and, where a
    keyword cannot say it precisely, a ``check`` returning the problem with a value."""
    extra = dict(keywords)
    if description is not None:
        extra["description"] = description
    metadata: dict[str, Any] = {"json_schema": extra}
    if check is not None:
        metadata["check"] = check
    return metadata


_TIMESTAMP = _schema("RFC 3339 UTC time with milliseconds", pattern=TIMESTAMP_PATTERN)
_ID = _schema(minLength=1, pattern=NON_BLANK_PATTERN)


def _text(description: str) -> dict[str, Any]:
    """Metadata of a string that must hold something besides whitespace."""
    return _schema(f"{description}; not blank", minLength=1, pattern=NON_BLANK_PATTERN)


def _check_worker_name(value: object) -> str | None:
    try:
        validate_worker_name(value)
    except InvalidWorkerId as exc:
        return exc.detail
    return None


# --- identities -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkerRef:
    """The only authority for a Worker operation: which Runtime, which Worker."""

    runtime_id: str = attrs.field(metadata=_ID)
    worker_id: str = attrs.field(metadata=_ID)


# --- create request ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AssistantIntent:
    kind: Literal["assistant"] = "assistant"
    purpose: str | None = None


@attrs.frozen(kw_only=True)
class TaskIntent:
    kind: Literal["task"] = "task"
    objective: str = attrs.field(metadata=_text("What the task is to achieve"))


@attrs.frozen(kw_only=True)
class RoleIntent:
    kind: Literal["role"] = "role"
    role: str = attrs.field(metadata=_text("The role the Worker plays"))
    purpose: str | None = None


WorkerIntent: TypeAlias = AssistantIntent | TaskIntent | RoleIntent


@attrs.frozen(kw_only=True)
class RuntimeDefaultProfile:
    kind: Literal["runtime_default"] = "runtime_default"


@attrs.frozen(kw_only=True)
class BuiltinProfile:
    kind: Literal["builtin"] = "builtin"
    value: str = attrs.field(metadata=_text("Built-in profile name"))


@attrs.frozen(kw_only=True)
class NamedProfile:
    kind: Literal["named"] = "named"
    value: str = attrs.field(metadata=_text("Profile name"))


WorkerProfile: TypeAlias = RuntimeDefaultProfile | BuiltinProfile | NamedProfile


@attrs.frozen(kw_only=True)
class ConfigBundleRef:
    id: str = attrs.field(metadata=_text("Config bundle id"))


@attrs.frozen(kw_only=True)
class RequestedCapability:
    name: str = attrs.field(metadata=_text("Capability name"))
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ResourceRef:
    """A named workspace or mount reference handed to the Worker."""

    name: str = attrs.field(metadata=_text("Reference name"))
    reference: str = attrs.field(metadata=_text("What the name refers to"))


@attrs.frozen(kw_only=True)
class CreateWorkerRequest:
    intent: WorkerIntent
    profile: WorkerProfile
    name: str | None = attrs.field(
        default=None,
        metadata=_schema(
            "The Worker's name, which becomes its worker_id (and its Pod name in a persistent "
            "store); a fresh id is generated when absent",
            pattern=WORKER_NAME_PATTERN,
            check=_check_worker_name,
        ),
    )
    config_bundle: ConfigBundleRef | None = None
    requested_capabilities: tuple[RequestedCapability, ...] = ()
    workspace_refs: tuple[ResourceRef, ...] = ()
    mount_refs: tuple[ResourceRef, ...] = ()
    on_busy: OnBusy | None = attrs.field(
        default=None,
        metadata=_schema(
            "What an input does while a turn runs: enqueue (the default), reject, or interrupt"
        ),
    )


@attrs.frozen(kw_only=True)
class WorkerInput:
    kind: InputKind
    content: str = attrs.field(metadata=_text("The input text"))
    on_busy: OnBusy | None = attrs.field(
        default=None, metadata=_schema("Overrides the Worker's busy policy for this input")
    )


@attrs.frozen(kw_only=True)
class InterruptRequest:
    """Optional body of interrupt: whether queued inputs are dropped too (default: they run)."""

    drop_queued: bool = False


@attrs.frozen(kw_only=True)
class LifecycleRequest:
    """Optional body of stop and cancel: the reason becomes the event message."""

    reason: str | None = None


# --- worker views -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TokenUsage:
    input_tokens: int = attrs.field(default=0, metadata=_schema(minimum=0))
    output_tokens: int = attrs.field(default=0, metadata=_schema(minimum=0))


@attrs.frozen(kw_only=True)
class WorkerTurn:
    """The Worker's turn right now: idle, or running one with ``queued`` more waiting."""

    state: TurnState
    turn_id: str | None = attrs.field(metadata=_schema("The running turn; null when idle"))
    started_at: str | None = attrs.field(
        metadata=_schema("When the running turn started; null when idle")
    )
    queued: int = attrs.field(metadata=_schema("Inputs waiting for their turn", minimum=0))


@attrs.frozen(kw_only=True)
class WorkerSummary:
    worker_ref: WorkerRef
    runtime_id: str
    worker_id: str
    status: WorkerStatus
    intent: WorkerIntent
    profile: WorkerProfile
    requested_capability_count: int = attrs.field(metadata=_schema(minimum=0))
    has_config_bundle: bool
    transcript_len: int = attrs.field(metadata=_schema(minimum=0))
    last_event_id: int = attrs.field(metadata=_schema(minimum=1))
    created_at: str = attrs.field(metadata=_TIMESTAMP)
    updated_at: str = attrs.field(metadata=_TIMESTAMP)


@attrs.frozen(kw_only=True)
class WorkerPage:
    """A page of the Runtime's Workers, ordered by worker id."""

    workers: tuple[WorkerSummary, ...]
    next_after: str | None = attrs.field(
        metadata=_schema("Pass as after= for the next page; null when this page is the last")
    )


@attrs.frozen(kw_only=True)
class WorkerDetail:
    worker_ref: WorkerRef
    runtime_id: str
    worker_id: str
    status: WorkerStatus
    status_reason: str | None = attrs.field(
        default=None, metadata=_schema("Why the Worker stopped or was cancelled, when given")
    )
    intent: WorkerIntent
    profile: WorkerProfile
    config_bundle: ConfigBundleRef | None = None
    requested_capabilities: tuple[RequestedCapability, ...]
    workspace_refs: tuple[ResourceRef, ...]
    mount_refs: tuple[ResourceRef, ...]
    transcript_len: int = attrs.field(metadata=_schema(minimum=0))
    last_event_id: int = attrs.field(metadata=_schema(minimum=1))
    created_at: str = attrs.field(metadata=_TIMESTAMP)
    updated_at: str = attrs.field(metadata=_TIMESTAMP)
    on_busy: OnBusy
    turn: WorkerTurn
    usage: TokenUsage = attrs.field(metadata=_schema("Tokens used, summed over every turn"))


# --- transcript -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TranscriptEntry:
    """One item of a Worker's conversation. ``content`` is the text of input and assistant
    messages, the JSON arguments of a tool call, and the text of a tool result."""

    sequence: int = attrs.field(metadata=_schema("Position in the Worker's transcript, from 1"))
    worker_ref: WorkerRef
    role: TranscriptRole
    content: str
    event_id: int = attrs.field(metadata=_schema("The event that recorded the item", minimum=1))
    at: str = attrs.field(metadata=_TIMESTAMP)
    turn_id: str | None = attrs.field(
        default=None, metadata=_schema("The turn the item belongs to (input: the turn it starts)")
    )
    call_id: str | None = attrs.field(
        default=None, metadata=_schema("tool_call and tool_result: the call's id")
    )
    tool_name: str | None = attrs.field(
        default=None, metadata=_schema("tool_call and tool_result: the tool's name")
    )
    is_error: bool | None = attrs.field(
        default=None, metadata=_schema("tool_result: true when the call failed or was refused")
    )


@attrs.frozen(kw_only=True)
class TranscriptProjection:
    worker_ref: WorkerRef
    start: int = attrs.field(metadata=_schema("0-based index of the first item", minimum=0))
    limit: int = attrs.field(metadata=_schema("The limit applied", minimum=1))
    total_items: int = attrs.field(metadata=_schema(minimum=0))
    items: tuple[TranscriptEntry, ...]
    next_start: int | None = attrs.field(
        metadata=_schema("Where the next page starts; null when this page reaches the end")
    )


# --- acks -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkerInteractionAck:
    worker_ref: WorkerRef
    status: WorkerStatus
    transcript_sequence: int = attrs.field(metadata=_schema(minimum=1))
    event_id: int = attrs.field(metadata=_schema(minimum=1))
    turn_id: str | None = attrs.field(
        metadata=_schema("The turn this input starts or queues; null when no engine runs turns")
    )
    turn_phase: TurnPhase | None = attrs.field(
        metadata=_schema("running or queued; null when no engine runs turns")
    )


@attrs.frozen(kw_only=True)
class TurnInterruptAck:
    worker_ref: WorkerRef
    turn_id: str | None = attrs.field(metadata=_schema("The interrupted turn; null if none ran"))
    event_id: int = attrs.field(
        metadata=_schema("The turn_interrupted event, or the Worker's last event", minimum=1)
    )
    changed: bool = attrs.field(metadata=_schema("False when no turn was running"))
    dropped: int = attrs.field(metadata=_schema("Queued inputs dropped", minimum=0))


@attrs.frozen(kw_only=True)
class TurnDetail:
    """A turn as a caller waiting for it sees it: where it is and, once ended, its reply."""

    worker_ref: WorkerRef
    turn_id: str
    phase: TurnPhase
    reason: str | None = attrs.field(
        default=None, metadata=_schema("Why a turn failed or was interrupted")
    )
    reply: str | None = attrs.field(
        default=None, metadata=_schema("The last assistant message of a completed turn")
    )
    usage: TokenUsage
    event_id: int | None = attrs.field(
        default=None, metadata=_schema("The event that ended the turn", minimum=1)
    )


@attrs.frozen(kw_only=True)
class WorkerLifecycleAck:
    worker_ref: WorkerRef
    status: WorkerStatus
    event_id: int = attrs.field(
        metadata=_schema("The event this call wrote, or the Worker's last event", minimum=1)
    )
    changed: bool = attrs.field(
        metadata=_schema("False when the Worker had already reached a terminal status")
    )


@attrs.frozen(kw_only=True)
class RuntimeLifecycleAck:
    runtime_id: str
    status: RuntimeStatus
    event_id: int = attrs.field(
        metadata=_schema("The runtime_stopped event (the one written earlier when unchanged)")
    )
    changed: bool


# --- events -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RuntimeEvent:
    id: int = attrs.field(metadata=_schema("Dense per Runtime, from 1", minimum=1))
    kind: EventKind
    at: str = attrs.field(metadata=_TIMESTAMP)
    message: str
    worker_ref: WorkerRef | None = None
    turn_id: str | None = None
    reason: str | None = attrs.field(
        default=None, metadata=_schema("turn_failed and turn_interrupted: a reason code")
    )
    usage: TokenUsage | None = attrs.field(
        default=None, metadata=_schema("Turn end events: the tokens the turn used")
    )


@attrs.frozen(kw_only=True)
class TurnTextDelta:
    """A piece of assistant text as it is generated: live only, never stored. ``index`` counts
    a turn's deltas from 0; joined in order they are the turn's assistant text."""

    worker_ref: WorkerRef
    turn_id: str
    index: int = attrs.field(metadata=_schema(minimum=0))
    text: str


@attrs.frozen(kw_only=True)
class EventCursor:
    runtime_id: str = attrs.field(metadata=_ID)
    next_event_id: int = attrs.field(
        metadata=_schema("The id of the next event to read", minimum=1)
    )


@attrs.frozen(kw_only=True)
class EventBatch:
    runtime_id: str
    cursor: EventCursor = attrs.field(metadata=_schema("The cursor to read on from"))
    events: tuple[RuntimeEvent, ...]
    has_more: bool = attrs.field(metadata=_schema("More events are already there to read"))


# --- runtime ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RuntimeLimits:
    max_transcript_projection_items: int = attrs.field(default=256, metadata=_schema(minimum=1))
    max_event_batch_items: int = attrs.field(default=256, metadata=_schema(minimum=1))
    max_worker_list_items: int = attrs.field(default=256, metadata=_schema(minimum=1))


@attrs.frozen(kw_only=True)
class RuntimeDiagnostic:
    id: str = attrs.field(metadata=_schema("Stable: the code, then @ and the Worker id if any"))
    severity: Severity
    code: str
    message: str
    worker_ref: WorkerRef | None = None


@attrs.frozen(kw_only=True)
class StoreSchemes:
    """The URL schemes of the stores holding a Runtime: ``fs``, ``memory``, ``postgresql``..."""

    pod_store: str = attrs.field(metadata=_ID)
    session_store: str = attrs.field(metadata=_ID)


@attrs.frozen(kw_only=True)
class RuntimeSummary:
    runtime_id: str
    display_name: str
    backend: Backend
    stores: StoreSchemes | None = attrs.field(
        default=None,
        metadata=_schema("Which store backends hold the Runtime; absent for backend memory"),
    )
    status: RuntimeStatus
    worker_count: int = attrs.field(metadata=_schema(minimum=0))
    active_worker_count: int = attrs.field(metadata=_schema(minimum=0))
    stopped_worker_count: int = attrs.field(metadata=_schema(minimum=0))
    cancelled_worker_count: int = attrs.field(metadata=_schema(minimum=0))
    diagnostic_count: int = attrs.field(metadata=_schema(minimum=0))
    last_event_id: int = attrs.field(metadata=_schema(minimum=1))
    started_at: str = attrs.field(metadata=_TIMESTAMP)
    limits: RuntimeLimits


@attrs.frozen(kw_only=True)
class ErrorDetail:
    """The ``error`` object of a REST error body."""

    code: str
    message: str
    hosting_runtime_id: str | None = attrs.field(
        default=None,
        metadata=_schema(
            "worker_hosted_elsewhere / worker_orphaned: the Runtime the store names as the "
            "Worker's host"
        ),
    )
    hosting_url: str | None = attrs.field(
        default=None,
        metadata=_schema(
            "worker_hosted_elsewhere / worker_orphaned: the REST URL that Runtime advertises "
            "(null when it advertises none)"
        ),
    )
    request_id: str | None = attrs.field(
        default=None,
        metadata=_schema("The request's id, as in its X-Request-ID response header"),
    )


# --- records persistence stores ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkerDefinition:
    """What a Worker was created with (everything of the request but its name)."""

    intent: WorkerIntent
    profile: WorkerProfile
    config_bundle: ConfigBundleRef | None = None
    requested_capabilities: tuple[RequestedCapability, ...] = ()
    workspace_refs: tuple[ResourceRef, ...] = ()
    mount_refs: tuple[ResourceRef, ...] = ()
    on_busy: OnBusy = "enqueue"


@attrs.frozen(kw_only=True)
class WorkerRecord:
    """A Worker's state as the Runtime keeps it; persistence receives it after every change."""

    ref: WorkerRef
    definition: WorkerDefinition
    status: WorkerStatus
    status_reason: str | None = None
    created_at: str = attrs.field(metadata=_TIMESTAMP)
    updated_at: str = attrs.field(metadata=_TIMESTAMP)
    transcript_len: int = attrs.field(metadata=_schema(minimum=0))
    last_event_id: int = attrs.field(metadata=_schema(minimum=1))
    #: Turns started so far and the tokens every turn used.
    turn_count: int = attrs.field(default=0, metadata=_schema(minimum=0))
    usage: TokenUsage = attrs.field(factory=TokenUsage)


@attrs.frozen(kw_only=True)
class RuntimeState:
    """A Runtime's own state as persistence stores it."""

    runtime_id: str
    display_name: str
    status: RuntimeStatus
    started_at: str = attrs.field(metadata=_TIMESTAMP)
    stopped_at: str | None = None


#: Every model with a JSON form, in the order a schema document lists them.
MODELS: tuple[type[Any], ...] = (
    WorkerRef,
    AssistantIntent,
    TaskIntent,
    RoleIntent,
    RuntimeDefaultProfile,
    BuiltinProfile,
    NamedProfile,
    ConfigBundleRef,
    RequestedCapability,
    ResourceRef,
    CreateWorkerRequest,
    WorkerInput,
    LifecycleRequest,
    InterruptRequest,
    TokenUsage,
    WorkerTurn,
    WorkerSummary,
    WorkerPage,
    WorkerDetail,
    TranscriptEntry,
    TranscriptProjection,
    WorkerInteractionAck,
    TurnInterruptAck,
    TurnDetail,
    WorkerLifecycleAck,
    RuntimeLifecycleAck,
    RuntimeEvent,
    TurnTextDelta,
    EventCursor,
    EventBatch,
    RuntimeLimits,
    RuntimeDiagnostic,
    StoreSchemes,
    RuntimeSummary,
    ErrorDetail,
    WorkerDefinition,
    WorkerRecord,
    RuntimeState,
)
