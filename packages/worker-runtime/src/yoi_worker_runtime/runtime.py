"""The Runtime: hosts Workers, keeps their transcripts, an event log and diagnostics.

Concurrency. A change of one Worker holds that Worker's lock (and the Runtime-wide lock shared);
a change of the whole Runtime (stopping, closing) holds the Runtime-wide lock exclusively. So
two Workers' changes never wait for each other except to share a sync. Every change then goes
through the commit pipeline (:mod:`.commits`): event ids reserved in order, the change prepared
in the caller's thread, committed in id order with whatever else is ready (group commit), and
applied to memory under ``_state``, a Condition held only for short, I/O-free sections. Locks
are always taken in this order: Runtime-wide, Worker, the pipeline's, ``_state``. Readers take
only ``_state``, so they never wait behind a store write, and a failed write leaves memory
untouched.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, TypeAlias, TypedDict, TypeVar

import attrs

from yoi_worker_runtime.adoption import Adopter, AdoptionPolicy
from yoi_worker_runtime.codec import check_model, text_problem
from yoi_worker_runtime.commits import CommitObserver, CommitPipeline, SharedExclusive, store_call
from yoi_worker_runtime.engines.contract import (
    AssistantMessage,
    EngineProvider,
    StepRequest,
    ToolCall,
    Usage,
)
from yoi_worker_runtime.errors import (
    InvalidRequest,
    InvalidWorkerId,
    LeaseLost,
    LimitTooLarge,
    RuntimeClosed,
    RuntimeStopped,
    StoreCorrupt,
    TurnNotFound,
    WorkerBusy,
    WorkerConflict,
    WorkerHostedElsewhere,
    WorkerNotFound,
    WorkerNotRunning,
    WorkerOrphaned,
    WorkerRuntimeError,
    WrongRuntime,
    WrongRuntimeCursor,
)
from yoi_worker_runtime.history import build_history
from yoi_worker_runtime.ids import (
    RuntimeId,
    WorkerId,
    new_runtime_id,
    new_turn_id,
    new_worker_id,
    validate_worker_name,
)
from yoi_worker_runtime.model import (
    Backend,
    CreateWorkerRequest,
    EventBatch,
    EventCursor,
    EventKind,
    InputKind,
    LifecycleRequest,
    RuntimeDiagnostic,
    RuntimeEvent,
    RuntimeLifecycleAck,
    RuntimeLimits,
    RuntimeState,
    RuntimeStatus,
    RuntimeSummary,
    TokenUsage,
    TranscriptEntry,
    TranscriptProjection,
    TurnDetail,
    TurnInterruptAck,
    TurnPhase,
    TurnTextDelta,
    WorkerDefinition,
    WorkerDetail,
    WorkerInput,
    WorkerInteractionAck,
    WorkerLifecycleAck,
    WorkerPage,
    WorkerRecord,
    WorkerRef,
    WorkerStatus,
    WorkerSummary,
    WorkerTurn,
)
from yoi_worker_runtime.persistence import (
    HistoryRecord,
    MemoryPersistence,
    RestoredRuntime,
    RestoredTurn,
    RestoredWorker,
    RuntimePersistence,
    RuntimeStop,
    StepUsage,
    TurnFinished,
    TurnStarted,
    WorkerChange,
    WorkerCreated,
    WorkerRestored,
    WorkerStatusChanged,
)
from yoi_worker_runtime.profiles import EngineSet, ResolvedProfile, RuntimeConfig
from yoi_worker_runtime.timestamps import utc_now
from yoi_worker_runtime.tools.contract import Tool
from yoi_worker_runtime.tools.plugins import installed_tools
from yoi_worker_runtime.tools.runner import ToolBox
from yoi_worker_runtime.turns import StepFailedError, TurnEndedError, TurnLoop, drive_turn

P = ParamSpec("P")
R = TypeVar("R")


class RuntimeOptions(TypedDict, total=False):
    """The keyword options of :meth:`Runtime.open` besides its identity and persistence, as
    the functions that open a Runtime on a store pass them through."""

    limits: RuntimeLimits | None
    config: RuntimeConfig | None
    engine_providers: Mapping[str, EngineProvider] | None
    tools: Mapping[str, Tool] | None
    workspace_root: Path | None
    adoption: AdoptionPolicy | None
    wrap_persistence: Callable[[RuntimePersistence], RuntimePersistence] | None


#: What a Runtime's listeners receive, in commit order: every event, and live text deltas.
LiveMessage: TypeAlias = RuntimeEvent | TurnTextDelta
Listener: TypeAlias = Callable[[LiveMessage], None]
#: Seconds an interrupt or stop waits for the engine's stream to close before it answers.
ENGINE_STOP_WAIT = 2.0
_ENDED: tuple[TurnPhase, ...] = ("completed", "failed", "interrupted")


@attrs.define(eq=False)
class _Turn:
    """A turn as the Runtime tracks it (guarded by the Runtime's ``_state`` lock)."""

    turn_id: str
    worker_id: WorkerId
    trigger: InputKind
    #: Profile and engine; None for a turn restored from the store (it will never run here).
    resolved: ResolvedProfile | None
    phase: TurnPhase = "queued"
    started_at: str | None = None
    reason: str | None = None
    end_event_id: int | None = None
    usage: TokenUsage = attrs.field(factory=TokenUsage)
    reply_sequence: int | None = None
    deltas: int = 0
    #: The task running the turn on the turn loop (set and read there; dropped when it ends),
    #: and whether nothing of the turn runs any more (guarded by ``_state``).
    launched: bool = False
    task: asyncio.Task[None] | None = None
    gone: bool = False

    def cancel(self) -> None:
        """Cancel the turn's task (on the turn loop). A launched task not yet running needs
        nothing: its first step finds the turn ended and returns."""
        if self.task is not None:
            self.task.cancel()


@attrs.define(eq=False)
class _Slot:
    """A Worker's turns: every id in acceptance order, the running one and the queue."""

    order: list[str] = attrs.field(factory=list)
    running: _Turn | None = None
    queue: deque[_Turn] = attrs.field(factory=deque)


_END_KINDS: dict[str, TurnPhase] = {
    "turn_completed": "completed",
    "turn_failed": "failed",
    "turn_interrupted": "interrupted",
}


def _usage_of(usage: Usage | None) -> TokenUsage:
    if usage is None:
        return TokenUsage()
    return TokenUsage(
        input_tokens=max(0, usage.input_tokens), output_tokens=max(0, usage.output_tokens)
    )


def _tool_result(
    ref: WorkerRef,
    sequence: int,
    event_id: int,
    at: str,
    turn_id: str,
    call: ToolCall,
    content: str,
    is_error: bool,
) -> TranscriptEntry:
    return TranscriptEntry(
        sequence=sequence,
        worker_ref=ref,
        role="tool_result",
        content=content,
        event_id=event_id,
        at=at,
        turn_id=turn_id,
        call_id=call.call_id,
        tool_name=call.name,
        is_error=True if is_error else None,
    )


def _check_timeout(timeout: object) -> None:
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise InvalidRequest(f"timeout must be a finite number of seconds >= 0, got {timeout!r}")


class _Host:
    """The Runtime as a :class:`~yoi_worker_runtime.turns.TurnHost` (kept off its public API)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def step_request(self, turn_id: str, step: int) -> StepRequest:
        return self._runtime._step_request(turn_id, step)

    def publish_delta(self, turn_id: str, text: str) -> None:
        self._runtime._publish_delta(turn_id, text)

    async def complete(self, turn_id: str, message: AssistantMessage, usage: Usage | None) -> None:
        runtime = self._runtime
        await runtime._blocking(runtime._complete, turn_id, message, usage)

    async def call_tools(
        self, turn_id: str, message: AssistantMessage, usage: Usage | None
    ) -> None:
        await self._runtime._call_tools(turn_id, message, usage)

    async def fail(self, turn_id: str, failure: StepFailedError) -> None:
        runtime = self._runtime
        await runtime._blocking(runtime._fail, turn_id, failure)


def _add_usage(total: TokenUsage, more: TokenUsage) -> TokenUsage:
    return TokenUsage(
        input_tokens=total.input_tokens + more.input_tokens,
        output_tokens=total.output_tokens + more.output_tokens,
    )


def _check_limit(limit: int | None, maximum: int) -> int:
    """The effective page size. 0 is refused: a page of nothing could never advance a loop."""
    if limit is None:
        return maximum
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise InvalidRequest("limit must be an integer")
    if limit < 1:
        raise InvalidRequest(f"limit must be at least 1, got {limit}")
    if limit > maximum:
        raise LimitTooLarge(limit, maximum)
    return limit


def _worker_diagnostics(worker: WorkerRecord) -> list[RuntimeDiagnostic]:
    worker_id = worker.ref.worker_id
    found = []
    if worker.definition.config_bundle is None:
        found.append(
            RuntimeDiagnostic(
                id=f"runtime.local_default_resources@{worker_id}",
                severity="info",
                code="runtime.local_default_resources",
                message=f"worker {worker_id} has no config bundle; "
                "it uses the runtime's local default resources",
                worker_ref=worker.ref,
            )
        )
    if not worker.definition.requested_capabilities:
        found.append(
            RuntimeDiagnostic(
                id=f"worker.tools_less@{worker_id}",
                severity="info",
                code="worker.tools_less",
                message=f"worker {worker_id} requested no capabilities; it runs without tools",
                worker_ref=worker.ref,
            )
        )
    return found


def _summary_of(worker: WorkerRecord) -> WorkerSummary:
    definition = worker.definition
    return WorkerSummary(
        worker_ref=worker.ref,
        runtime_id=worker.ref.runtime_id,
        worker_id=worker.ref.worker_id,
        status=worker.status,
        intent=definition.intent,
        profile=definition.profile,
        requested_capability_count=len(definition.requested_capabilities),
        has_config_bundle=definition.config_bundle is not None,
        transcript_len=worker.transcript_len,
        last_event_id=worker.last_event_id,
        created_at=worker.created_at,
        updated_at=worker.updated_at,
    )


def _detail_of(worker: WorkerRecord, turn: WorkerTurn) -> WorkerDetail:
    definition = worker.definition
    return WorkerDetail(
        worker_ref=worker.ref,
        runtime_id=worker.ref.runtime_id,
        worker_id=worker.ref.worker_id,
        status=worker.status,
        status_reason=worker.status_reason,
        intent=definition.intent,
        profile=definition.profile,
        config_bundle=definition.config_bundle,
        requested_capabilities=definition.requested_capabilities,
        workspace_refs=definition.workspace_refs,
        mount_refs=definition.mount_refs,
        transcript_len=worker.transcript_len,
        last_event_id=worker.last_event_id,
        created_at=worker.created_at,
        updated_at=worker.updated_at,
        on_busy=definition.on_busy,
        turn=turn,
        usage=worker.usage,
    )


def _check_transcript(
    ref: WorkerRef, worker: WorkerRecord, entries: Sequence[TranscriptEntry]
) -> None:
    worker_id = ref.worker_id
    if worker.transcript_len != len(entries):
        raise StoreCorrupt(
            f"worker {worker_id} records {worker.transcript_len} transcript entries "
            f"but {len(entries)} were found"
        )
    for position, entry in enumerate(entries, start=1):
        if entry.sequence != position or entry.worker_ref != ref:
            raise StoreCorrupt(
                f"transcript entry {position} of worker {worker_id} is out of place "
                f"(sequence {entry.sequence})"
            )


def _check_restored(restored: RestoredRuntime) -> None:
    """Refuse a restored state the Runtime could not keep its promises on."""
    runtime_id = restored.runtime.runtime_id
    events = restored.events
    if not events or events[0].kind != "runtime_started":
        raise StoreCorrupt(
            f"the event log of runtime {runtime_id} does not start with runtime_started"
        )
    for position, event in enumerate(events, start=1):
        if event.id != position:
            raise StoreCorrupt(
                f"event {event.id} of runtime {runtime_id} is where {position} belongs"
            )
    seen: set[str] = set()
    for item in restored.workers:
        ref = item.worker.ref
        if ref.runtime_id != runtime_id:
            raise StoreCorrupt(f"worker {ref.worker_id} names runtime {ref.runtime_id}")
        if ref.worker_id in seen:
            raise StoreCorrupt(f"worker {ref.worker_id} appears twice")
        seen.add(ref.worker_id)
        if item.worker.last_event_id > len(events):
            raise StoreCorrupt(f"worker {ref.worker_id} refers to an event past the log's end")
        _check_transcript(ref, item.worker, item.transcript)


class Runtime:
    """An embeddable Runtime. Create one with :meth:`open`; it is safe to share across threads.

    Reads work at any time, also after the Runtime stopped or closed; mutations need it running.
    """

    def __init__(
        self,
        *,
        record: RuntimeState,
        limits: RuntimeLimits,
        persistence: RuntimePersistence,
        events: list[RuntimeEvent],
        workers: Sequence[RestoredWorker],
        diagnostics: Sequence[RuntimeDiagnostic],
        engines: EngineSet,
        toolbox: ToolBox,
    ) -> None:
        """Use :meth:`open`; this only assembles already checked state."""
        self._runtime_lock = SharedExclusive()
        self._worker_locks: dict[WorkerId, threading.Lock] = {}
        self._state = threading.Condition(threading.Lock())
        self._commits = CommitPipeline(persistence, self._state, len(events) + 1)  # type: ignore[arg-type]
        self._record = record
        self._limits = limits
        self._persistence = persistence
        self._engines = engines
        self._tools = toolbox
        self._closed = False
        self._events = events
        self._workers: dict[WorkerId, WorkerRecord] = {}
        self._transcripts: dict[WorkerId, list[TranscriptEntry]] = {}
        self._slots: dict[WorkerId, _Slot] = {}
        self._turns: dict[str, _Turn] = {}
        #: Names being created right now (a second create of one fails at once).
        self._creating: set[WorkerId] = set()
        self._listeners: list[Listener] = []
        self._loop = TurnLoop(f"yoi-turns-{record.runtime_id}")
        self._host = _Host(self)
        self._diagnostics: dict[str, RuntimeDiagnostic] = {item.id: item for item in diagnostics}
        #: Why the hosting lease was lost (None while held), and who wants to know.
        self._lease_lost: str | None = None
        self._lease_listeners: list[Callable[[str], None]] = []
        self._adopter: Adopter | None = None
        with self._state:
            for item in workers:
                self._install(item.worker, list(item.transcript))
            self._restore_turns()
        persistence.on_lease_lost(self._lose_lease)

    # --- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        runtime_id: RuntimeId | None = None,
        display_name: str | None = None,
        limits: RuntimeLimits | None = None,
        persistence: RuntimePersistence | None = None,
        config: RuntimeConfig | None = None,
        engine_providers: Mapping[str, EngineProvider] | None = None,
        tools: Mapping[str, Tool] | None = None,
        workspace_root: Path | None = None,
        adoption: AdoptionPolicy | None = None,
        wrap_persistence: Callable[[RuntimePersistence], RuntimePersistence] | None = None,
    ) -> Runtime:
        """Open a Runtime: restore it from ``persistence`` or start a fresh one (event 1 is
        ``runtime_started``). Without ``persistence`` it lives in memory only.

        ``config`` holds the profiles that choose each Worker's engine (default: the built-in
        ``echo`` and ``none``, ``echo`` by default); every profile's engine is created here,
        so a configuration error (ConfigError) surfaces before anything is opened.
        ``engine_providers`` and ``tools`` replace the installed engine and tool plugins (an
        application embedding the Runtime can hand it its own this way); the configuration's
        ``allow_tools`` picks the tools Workers may request. Each Worker's tools work in
        ``workspace_root / <worker id>`` (no workspace when None). Turns that
        a restored Runtime had accepted but not ended are recorded as interrupted
        (``runtime_restarted``) before this returns: nothing is re-run silently.

        ``runtime_id`` must follow the Worker name rule; a fresh Runtime without one gets a
        generated id. When the store already holds a Runtime, a given ``runtime_id`` must match
        it and the stored display name is kept. The Runtime owns ``persistence`` from here on:
        it closes it in :meth:`close`, and at once if opening fails. ``wrap_persistence``, when
        given, receives that persistence first and returns the one the Runtime uses (to
        measure or watch it, say; the REST server times every write this way).

        With ``adoption``, the Runtime takes over the Workers of Runtimes sharing its store
        whose hosting lease lapsed (see :mod:`yoi_worker_runtime.adoption`).
        """
        if wrap_persistence is not None:
            persistence = wrap_persistence(
                persistence if persistence is not None else MemoryPersistence()
            )
        runtime = cls._open(
            runtime_id=runtime_id,
            display_name=display_name,
            limits=limits,
            persistence=persistence,
            config=config,
            engine_providers=engine_providers,
            tools=tools,
            workspace_root=workspace_root,
        )
        if adoption is not None:
            runtime._adopter = Adopter(runtime, adoption)
            runtime._adopter.start()
        return runtime

    @classmethod
    def _open(
        cls,
        *,
        runtime_id: RuntimeId | None,
        display_name: str | None,
        limits: RuntimeLimits | None,
        persistence: RuntimePersistence | None,
        config: RuntimeConfig | None,
        engine_providers: Mapping[str, EngineProvider] | None,
        tools: Mapping[str, Tool] | None,
        workspace_root: Path | None,
    ) -> Runtime:
        limits = limits if limits is not None else RuntimeLimits()
        check_model(limits)
        if runtime_id is not None:
            try:
                validate_worker_name(runtime_id, what="runtime id")
            except InvalidWorkerId as exc:
                raise InvalidRequest(exc.detail) from None
        if display_name is not None and (
            not isinstance(display_name, str) or not display_name.strip()
        ):
            raise InvalidRequest("display name must not be blank")
        if display_name is not None and (problem := text_problem(display_name)) is not None:
            raise InvalidRequest(f"display name {problem}")
        config = config if config is not None else RuntimeConfig()
        engines = EngineSet(config, engine_providers)
        toolbox = ToolBox(
            config.allow_tools, installed_tools() if tools is None else tools, workspace_root
        )
        store = persistence if persistence is not None else MemoryPersistence()
        try:
            restored = store_call(store.load)
            if restored is None:
                return cls._start(store, runtime_id, display_name, limits, engines, toolbox)
            _check_restored(restored)
            stored_id = restored.runtime.runtime_id
            if runtime_id is not None and runtime_id != stored_id:
                raise InvalidRequest(
                    f"runtime id {runtime_id} does not match the stored runtime {stored_id}"
                )
            diagnostics = list(restored.diagnostics)
            for item in restored.workers:
                diagnostics += _worker_diagnostics(item.worker)
            runtime = cls(
                record=restored.runtime,
                limits=limits,
                persistence=store,
                events=list(restored.events),
                workers=restored.workers,
                diagnostics=diagnostics,
                engines=engines,
                toolbox=toolbox,
            )
            runtime._interrupt_restored_turns()
            return runtime
        except BaseException:
            with contextlib.suppress(Exception):  # the original failure is the one to report
                store.close()
            raise

    @classmethod
    def _start(
        cls,
        store: RuntimePersistence,
        runtime_id: RuntimeId | None,
        display_name: str | None,
        limits: RuntimeLimits,
        engines: EngineSet,
        toolbox: ToolBox,
    ) -> Runtime:
        runtime_id = runtime_id if runtime_id is not None else new_runtime_id()
        at = utc_now()
        record = RuntimeState(
            runtime_id=runtime_id,
            display_name=display_name if display_name is not None else runtime_id,
            status="running",
            started_at=at,
        )
        event = RuntimeEvent(
            id=1, kind="runtime_started", at=at, message=f"runtime {runtime_id} started"
        )
        store_call(store.record_runtime_started, record, event)
        return cls(
            record=record,
            limits=limits,
            persistence=store,
            events=[event],
            workers=(),
            diagnostics=(),
            engines=engines,
            toolbox=toolbox,
        )

    def close(self) -> None:
        """Release the store. Running and queued turns end as interrupted (``runtime_closed``)
        as far as the store still takes writes (a reopen records the rest as
        ``runtime_restarted``); engines are closed. Workers keep their status (a persistent
        Runtime reopens with them); later mutations raise RuntimeClosed, reads keep working,
        waiters wake up. Idempotent."""
        if self._adopter is not None:
            self._adopter.stop()
        ended: list[_Turn] = []
        with self._runtime_lock.exclusive():
            with self._state:
                if self._closed:
                    return
                busy = [
                    worker_id
                    for worker_id, slot in self._slots.items()
                    if slot.running is not None or slot.queue
                ]
            if self._record.status == "running" and self._lease_lost is None:
                for worker_id in sorted(busy):
                    with contextlib.suppress(WorkerRuntimeError):
                        ended += self._end_turns(worker_id, "runtime_closed", include_queued=True)
            with self._state:
                self._closed = True
                self._state.notify_all()
        self._await_ended(ended)
        self._loop.close(self._engines.aclose())
        with self._runtime_lock.exclusive():
            store_call(self._persistence.close)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Runtime {self._record.runtime_id} {self._record.status} ({self.backend})>"

    # --- simple reads -------------------------------------------------------------------------

    @property
    def runtime_id(self) -> RuntimeId:
        return self._record.runtime_id

    @property
    def display_name(self) -> str:
        return self._record.display_name

    @property
    def status(self) -> RuntimeStatus:
        return self._record.status

    @property
    def backend(self) -> Backend:
        return self._persistence.backend

    @property
    def limits(self) -> RuntimeLimits:
        return self._limits

    @property
    def closed(self) -> bool:
        return self._closed

    def worker_ref(self, worker_id: WorkerId) -> WorkerRef:
        """A WorkerRef for ``worker_id`` in this Runtime (what a REST path resolves to)."""
        return WorkerRef(runtime_id=self._record.runtime_id, worker_id=worker_id)

    def summary(self) -> RuntimeSummary:
        with self._state:
            statuses = [worker.status for worker in self._workers.values()]
            record = self._record
            diagnostic_count = len(self._diagnostics)
            last_event_id = len(self._events)
        return RuntimeSummary(
            runtime_id=record.runtime_id,
            display_name=record.display_name,
            backend=self.backend,
            stores=self._persistence.stores,
            status=record.status,
            worker_count=len(statuses),
            active_worker_count=statuses.count("running"),
            stopped_worker_count=statuses.count("stopped"),
            cancelled_worker_count=statuses.count("cancelled"),
            diagnostic_count=diagnostic_count,
            last_event_id=last_event_id,
            started_at=record.started_at,
            limits=self._limits,
        )

    def list_workers(self) -> list[WorkerSummary]:
        """Every Worker, ordered by worker id."""
        with self._state:
            self._check_lease()
            workers = list(self._workers.values())
        workers.sort(key=lambda worker: worker.ref.worker_id)
        return [_summary_of(worker) for worker in workers]

    def worker_page(self, *, after: str | None = None, limit: int | None = None) -> WorkerPage:
        """The Workers whose ids sort after ``after`` (from the first when None), at most
        ``limit`` (default and maximum: ``max_worker_list_items``)."""
        limit = _check_limit(limit, self._limits.max_worker_list_items)
        if after is not None and not isinstance(after, str):
            raise InvalidRequest("after must be a worker id")
        with self._state:
            self._check_lease()
            ids = sorted(self._workers)
            start = bisect.bisect_right(ids, after) if after is not None else 0
            chosen = [self._workers[worker_id] for worker_id in ids[start : start + limit]]
            more = start + limit < len(ids)
        return WorkerPage(
            workers=tuple(_summary_of(worker) for worker in chosen),
            next_after=chosen[-1].ref.worker_id if more and chosen else None,
        )

    def worker_detail(self, ref: WorkerRef) -> WorkerDetail:
        with self._state:
            worker = self._lookup(ref)
            turn = self._worker_turn(ref.worker_id)
        return _detail_of(worker, turn)

    def diagnostics(self) -> list[RuntimeDiagnostic]:
        """Store problems found on load first, then per-Worker findings in creation order."""
        with self._state:
            return list(self._diagnostics.values())

    def transcript_projection(
        self, ref: WorkerRef, *, start: int = 0, limit: int | None = None
    ) -> TranscriptProjection:
        """One page of a Worker's transcript. ``start`` is a 0-based index; ``limit`` defaults
        to the configured maximum, must be 1..maximum (0 is InvalidRequest, above the maximum
        LimitTooLarge). ``next_start`` is None once the page reaches the end."""
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise InvalidRequest(f"start must be an integer of at least 0, got {start!r}")
        limit = _check_limit(limit, self._limits.max_transcript_projection_items)
        with self._state:
            self._lookup(ref)
            transcript = self._transcripts[ref.worker_id]
            total = len(transcript)
            items = tuple(transcript[start : start + limit])
        end = start + len(items)
        return TranscriptProjection(
            worker_ref=ref,
            start=start,
            limit=limit,
            total_items=total,
            items=items,
            next_start=end if end < total else None,
        )

    # --- events -------------------------------------------------------------------------------

    def event_cursor_from_start(self) -> EventCursor:
        """A cursor at event 1 (``runtime_started``)."""
        return EventCursor(runtime_id=self._record.runtime_id, next_event_id=1)

    def event_cursor_now(self) -> EventCursor:
        """A cursor past every event so far: reading it returns only later events."""
        with self._state:
            return EventCursor(
                runtime_id=self._record.runtime_id, next_event_id=len(self._events) + 1
            )

    def read_events(self, cursor: EventCursor, limit: int | None = None) -> EventBatch:
        """Events from ``cursor`` on, at most ``limit`` (default and maximum:
        ``max_event_batch_items``); the batch's cursor is where to read next."""
        limit = _check_limit(limit, self._limits.max_event_batch_items)
        with self._state:
            self._check_cursor(cursor)
            first = cursor.next_event_id
            events = tuple(self._events[first - 1 : first - 1 + limit])
            last_event_id = len(self._events)
        next_event_id = first + len(events)
        return EventBatch(
            runtime_id=self._record.runtime_id,
            cursor=EventCursor(runtime_id=self._record.runtime_id, next_event_id=next_event_id),
            events=events,
            has_more=next_event_id <= last_event_id,
        )

    def wait_for_events(
        self, cursor: EventCursor, timeout: float, limit: int | None = None
    ) -> EventBatch:
        """Like :meth:`read_events`, but when nothing is there yet, block until an event arrives
        or ``timeout`` seconds pass (then the batch is empty). Returns at once when the Runtime
        has stopped or closed, since no event can come any more."""
        _check_timeout(timeout)
        _check_limit(limit, self._limits.max_event_batch_items)
        with self._state:
            self._check_cursor(cursor)
            self._state.wait_for(
                lambda: (
                    len(self._events) >= cursor.next_event_id
                    or self._record.status == "stopped"
                    or self._closed
                    or self._lease_lost is not None
                ),
                timeout,
            )
        return self.read_events(cursor, limit)

    # --- mutations ----------------------------------------------------------------------------

    def create_worker(self, request: CreateWorkerRequest) -> WorkerDetail:
        """Create a running Worker named ``request.name`` or with a generated id.

        A name already used in this Runtime is a WorkerConflict. For a caller-chosen name the
        store may bring back the Worker it kept under that name (the stored definition wins,
        event ``worker_restored``) or refuse with WorkerConflict; otherwise the event is
        ``worker_created``.
        """
        if not isinstance(request, CreateWorkerRequest):
            raise InvalidRequest("expected a CreateWorkerRequest")
        if request.name is not None:
            validate_worker_name(request.name)  # InvalidWorkerId says which rule failed
        check_model(request)
        self._engines.resolve(request.profile)  # UnknownProfile: nothing is written
        self._tools.check_request(request.requested_capabilities)
        with self._runtime_lock.shared():
            with self._state:
                self._check_mutable()
                worker_id = request.name if request.name is not None else new_worker_id()
                while request.name is None and worker_id in self._workers:
                    worker_id = new_worker_id()  # 74 random bits: only for certainty
                if worker_id in self._workers or worker_id in self._creating:
                    raise WorkerConflict(
                        worker_id, f"already exists in runtime {self._record.runtime_id}"
                    )
                self._creating.add(worker_id)
            try:
                return self._create(worker_id, request)
            finally:
                with self._state:
                    self._creating.discard(worker_id)

    def adopt_worker(self, worker_id: WorkerId) -> WorkerDetail | None:
        """Restore here a Worker the store holds as running under a Runtime whose hosting lease
        lapsed (event ``worker_adopted``): its transcript, and its unended turns recorded as
        interrupted (``host_lost``). None when this Runtime already hosts it or the store
        holds no such Worker; WorkerConflict when its host is alive after all or another
        Runtime took it first. What adoption (:class:`AdoptionPolicy`) calls for each orphan.
        """
        validate_worker_name(worker_id)
        with self._runtime_lock.shared():
            with self._state:
                self._check_mutable()
                if worker_id in self._workers or worker_id in self._creating:
                    return None
                self._creating.add(worker_id)
            try:
                return self._create(worker_id, None)
            finally:
                with self._state:
                    self._creating.discard(worker_id)

    def orphans(self) -> list[WorkerId]:
        """Workers of the shared store whose host's lease lapsed (what adoption takes over)."""
        with self._state:
            self._check_mutable()
        return [WorkerId(worker_id) for worker_id in store_call(self._persistence.orphans)]

    def missing_worker_error(self, worker_id: WorkerId) -> WorkerNotFound:
        """The error for a Worker this Runtime does not host, as precise as the store allows:
        WorkerHostedElsewhere (another live Runtime hosts it; its id and advertised URL),
        WorkerOrphaned (its host's lease lapsed), else WorkerNotFound. Reads the store."""
        runtime_id = self._record.runtime_id
        location = self._persistence.locate_worker(worker_id)
        if location is None:
            return WorkerNotFound(worker_id, runtime_id)
        if location.live:
            return WorkerHostedElsewhere(worker_id, runtime_id, location.runtime_id, location.url)
        return WorkerOrphaned(
            worker_id, runtime_id, location.runtime_id, location.url, location.reason
        )

    def _create(self, worker_id: WorkerId, request: CreateWorkerRequest | None) -> WorkerDetail:
        """Create or restore ``worker_id`` (its name is reserved in ``_creating``); with no
        ``request``, adopt it (restore only)."""
        ref = self.worker_ref(worker_id)
        restored = None
        if request is None or request.name is not None:
            restored = store_call(self._persistence.claim_worker, ref)
        if restored is not None:
            if restored.worker.ref != ref:
                raise StoreCorrupt(
                    f"the store restored worker {restored.worker.ref.worker_id} for {worker_id}"
                )
            _check_transcript(ref, restored.worker, restored.transcript)
        elif request is None:
            raise WorkerNotFound(worker_id, self._record.runtime_id)
        at = utc_now()

        def build(event_id: int) -> tuple[WorkerCreated | WorkerRestored, Callable[[], None]]:
            change: WorkerCreated | WorkerRestored
            if restored is None:
                assert request is not None
                transcript: list[TranscriptEntry] = []
                worker = WorkerRecord(
                    ref=ref,
                    definition=WorkerDefinition(
                        intent=request.intent,
                        profile=request.profile,
                        config_bundle=request.config_bundle,
                        requested_capabilities=request.requested_capabilities,
                        workspace_refs=request.workspace_refs,
                        mount_refs=request.mount_refs,
                        on_busy=request.on_busy or "enqueue",
                    ),
                    status="running",
                    created_at=at,
                    updated_at=at,
                    transcript_len=0,
                    last_event_id=event_id,
                )
                event = self._event(
                    event_id, "worker_created", at, f"worker {worker_id} created", ref
                )
                change = WorkerCreated(worker=worker, events=(event,))
            else:
                transcript = list(restored.transcript)
                worker = attrs.evolve(
                    restored.worker,
                    status="running",
                    status_reason=None,
                    updated_at=at,
                    last_event_id=event_id,
                )
                former = restored.former_host
                if request is None:
                    event = self._event(
                        event_id,
                        "worker_adopted",
                        at,
                        f"worker {worker_id} adopted from runtime {former}, whose lease lapsed",
                        ref,
                    )
                else:
                    event = self._event(
                        event_id, "worker_restored", at, f"worker {worker_id} restored", ref
                    )
                change = WorkerRestored(
                    worker=worker, transcript=restored.transcript, events=(event,)
                )

            def apply() -> None:
                self._install(worker, transcript)
                self._append_events(event)

            return change, apply

        with self._worker_change(worker_id):
            created = self._commits.run(build)
            if restored is not None and restored.turns:
                self._take_over_turns(worker_id, restored.turns)
            with self._state:
                turn = self._worker_turn(worker_id)
        return _detail_of(created.worker, turn)

    def _take_over_turns(self, worker_id: WorkerId, turns: Sequence[RestoredTurn]) -> None:
        """Know the turns a restored Worker's history records, so a client that follows the
        Worker here finds them; the ones its former host left unended end as interrupted
        (``host_lost``): nothing is re-run behind a client's back. (Caller holds the Worker's
        lock.)"""
        with self._state:
            slot = self._slots[worker_id]
            for item in turns:
                if item.turn_id in self._turns:
                    continue
                turn = _Turn(item.turn_id, worker_id, "user", None, phase=item.phase)
                turn.reason = item.reason
                self._turns[item.turn_id] = turn
                slot.order.append(item.turn_id)
                if item.phase == "running" and slot.running is None:
                    slot.running = turn
                elif item.phase in ("queued", "running"):
                    turn.phase = "queued"
                    slot.queue.append(turn)
            for entry in self._transcripts[worker_id]:
                if entry.role == "assistant" and entry.turn_id in self._turns:
                    ended = self._turns[entry.turn_id]
                    if ended.phase == "completed":
                        ended.reply_sequence = entry.sequence
        try:
            self._end_turns(worker_id, "host_lost", include_queued=True)
        except WorkerRuntimeError as error:
            self._abandon_turns(worker_id, error)

    @property
    def lease_lost_reason(self) -> str | None:
        """Why the hosting lease on a shared store was lost; None while it is held."""
        return self._lease_lost

    def on_lease_lost(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` once if the hosting lease is lost (at once if it is): from
        then on the Runtime refuses every change and Worker read with LeaseLost. Runs in the
        thread that found out: keep it short (e.g. set an event)."""
        with self._state:
            reason = self._lease_lost
            if reason is None:
                self._lease_listeners.append(callback)
                return
        callback(reason)

    def _lose_lease(self, reason: str) -> None:
        """The store found the hosting lease lost: refuse everything from now on, stop the
        engines without writing (another Runtime may own these Workers already), say so."""
        with self._state:
            if self._lease_lost is not None:
                return
            self._lease_lost = reason
            diagnostic = RuntimeDiagnostic(
                id="runtime.lease_lost",
                severity="error",
                code="runtime.lease_lost",
                message=f"runtime {self._record.runtime_id} lost its hosting lease ({reason}); "
                "it changes nothing more and must be restarted",
            )
            self._diagnostics[diagnostic.id] = diagnostic
            for slot in self._slots.values():
                for turn in (slot.running, *slot.queue):
                    if turn is not None:
                        turn.phase, turn.reason = "interrupted", "lease_lost"
                        self._loop.call_soon(turn.cancel)
                slot.running = None
                slot.queue.clear()
            listeners, self._lease_listeners = self._lease_listeners, []
            self._state.notify_all()
        if self._adopter is not None:
            self._adopter.stop()
        for listener in listeners:
            listener(reason)

    def send_input(self, ref: WorkerRef, worker_input: WorkerInput) -> WorkerInteractionAck:
        """Append user or system input to a running Worker's transcript.

        When the Worker's profile has an engine, the input also starts a turn, or queues behind
        the running one, as the busy policy (the input's ``on_busy``, else the Worker's) says:
        ``enqueue``, ``reject`` (WorkerBusy, nothing written) or ``interrupt`` (the running turn
        and every queued one end as interrupted, reason ``superseded``, then this one runs).
        """
        if not isinstance(worker_input, WorkerInput):
            raise InvalidRequest("expected a WorkerInput")
        check_model(worker_input)
        ended: list[_Turn] = []
        with self._worker_change(ref.worker_id):
            with self._state:
                self._check_mutable()
                worker = self._lookup(ref)
                if worker.status != "running":
                    raise WorkerNotRunning(ref.worker_id)
                resolved = self._engines.resolve(worker.definition.profile)
                slot = self._slots[ref.worker_id]
                policy = worker_input.on_busy or worker.definition.on_busy
                busy = slot.running is not None or bool(slot.queue)
            runs_turns = resolved.engine is not None
            if runs_turns and busy and policy == "reject":
                waiting = slot.running or slot.queue[0]
                raise WorkerBusy(ref.worker_id, waiting.turn_id)
            if runs_turns and busy and policy == "interrupt":
                ended = self._end_turns(ref.worker_id, "superseded", include_queued=True)
            at = utc_now()
            turn_id = new_turn_id() if runs_turns else None
            starts = runs_turns and slot.running is None and not slot.queue
            turn = None
            if turn_id is not None:
                turn = _Turn(turn_id, ref.worker_id, worker_input.kind, resolved)

            def build(event_id: int) -> tuple[WorkerChange, Callable[[], None]]:
                with self._state:
                    worker = self._workers[ref.worker_id]
                sequence = worker.transcript_len + 1
                entry = TranscriptEntry(
                    sequence=sequence,
                    worker_ref=worker.ref,
                    role=worker_input.kind,
                    content=worker_input.content,
                    event_id=event_id,
                    at=at,
                    turn_id=turn_id,
                )
                events = [
                    self._event(
                        event_id,
                        "worker_input_accepted",
                        at,
                        f"{worker_input.kind} input accepted",
                        worker.ref,
                        turn_id=turn_id,
                    )
                ]
                records: list[HistoryRecord] = [entry]
                turn_count = worker.turn_count
                if turn is not None and starts:
                    records.append(TurnStarted(turn_id=turn.turn_id, trigger=worker_input.kind))
                    events.append(self._turn_event(event_id + 1, "turn_started", at, turn))
                    turn_count += 1
                updated = attrs.evolve(
                    worker,
                    transcript_len=sequence,
                    last_event_id=events[-1].id,
                    updated_at=at,
                    turn_count=turn_count,
                )
                change = WorkerChange(worker=updated, records=tuple(records), events=tuple(events))

                def apply() -> None:
                    self._apply(change)
                    if turn is not None:
                        self._turns[turn.turn_id] = turn
                        slot.order.append(turn.turn_id)
                        if starts:
                            self._begin(turn, at)
                        else:
                            slot.queue.append(turn)

                return change, apply

            change = self._commits.run(build)
            if turn is not None and starts:
                self._launch(turn)
        self._await_ended(ended)
        entry = change.records[0]
        assert isinstance(entry, TranscriptEntry)
        return WorkerInteractionAck(
            worker_ref=change.worker.ref,
            status=change.worker.status,
            transcript_sequence=entry.sequence,
            event_id=entry.event_id,
            turn_id=turn_id,
            turn_phase=None if turn is None else ("running" if starts else "queued"),
        )

    def stop_worker(self, ref: WorkerRef, reason: str | None = None) -> WorkerLifecycleAck:
        """Stop a running Worker; on a stopped or cancelled one, report it and write nothing."""
        return self._finish(ref, "stopped", "worker_stopped", reason, "worker stopped")

    def cancel_worker(self, ref: WorkerRef, reason: str | None = None) -> WorkerLifecycleAck:
        """Cancel a running Worker; on a stopped or cancelled one, report it and write nothing."""
        return self._finish(ref, "cancelled", "worker_cancelled", reason, "worker cancelled")

    def stop_runtime(self) -> RuntimeLifecycleAck:
        """Stop every running Worker (a ``worker_stopped`` event each), then the Runtime
        (``runtime_stopped``). Mutations then raise RuntimeStopped. A second call writes nothing."""
        with self._runtime_lock.exclusive():
            with self._state:
                if self._closed:
                    raise RuntimeClosed(self._record.runtime_id)
                if self._record.status == "stopped":
                    return RuntimeLifecycleAck(
                        runtime_id=self._record.runtime_id,
                        status="stopped",
                        event_id=len(self._events),
                        changed=False,
                    )
                busy = sorted(
                    worker_id
                    for worker_id, slot in self._slots.items()
                    if slot.running is not None or slot.queue
                )
            ended: list[_Turn] = []
            for worker_id in busy:
                ended += self._end_turns(worker_id, "runtime_stopped", include_queued=True)
            at = utc_now()
            runtime_id = self._record.runtime_id

            def build(first_id: int) -> tuple[RuntimeStop, Callable[[], None]]:
                with self._state:
                    running = sorted(
                        (worker for worker in self._workers.values() if worker.status == "running"),
                        key=lambda worker: worker.ref.worker_id,
                    )
                stopped: list[WorkerRecord] = []
                events: list[RuntimeEvent] = []
                for event_id, worker in enumerate(running, start=first_id):
                    stopped.append(
                        attrs.evolve(
                            worker,
                            status="stopped",
                            status_reason="runtime stopped",
                            updated_at=at,
                            last_event_id=event_id,
                        )
                    )
                    events.append(
                        self._event(
                            event_id,
                            "worker_stopped",
                            at,
                            "worker stopped: runtime stopped",
                            worker.ref,
                        )
                    )
                final_id = first_id + len(running)
                events.append(
                    self._event(
                        final_id, "runtime_stopped", at, f"runtime {runtime_id} stopped", None
                    )
                )
                record = attrs.evolve(self._record, status="stopped", stopped_at=at)
                change = RuntimeStop(runtime=record, workers=tuple(stopped), events=tuple(events))

                def apply() -> None:
                    for worker in stopped:
                        self._workers[worker.ref.worker_id] = worker
                    self._record = record
                    self._append_events(*events)

                return change, apply

            change = self._commits.run(build)
        self._await_ended(ended)
        return RuntimeLifecycleAck(
            runtime_id=runtime_id, status="stopped", event_id=change.events[-1].id, changed=True
        )

    # --- turns --------------------------------------------------------------------------------

    def interrupt_turn(self, ref: WorkerRef, *, drop_queued: bool = False) -> TurnInterruptAck:
        """End the Worker's running turn as interrupted (reason ``interrupted``) without ending
        the Worker: the engine's stream is closed and nothing the turn produced lands after its
        ``turn_interrupted`` event. Queued inputs then run, or end too with ``drop_queued``.
        On an idle Worker nothing is written (``changed`` false)."""
        if not isinstance(drop_queued, bool):
            raise InvalidRequest("drop_queued must be a boolean")
        with self._worker_change(ref.worker_id):
            with self._state:
                self._check_mutable()
                worker = self._lookup(ref)
                slot = self._slots[ref.worker_id]
                running = slot.running
                dropped = len(slot.queue) if drop_queued else 0
            if running is None and not dropped:
                return TurnInterruptAck(
                    worker_ref=worker.ref,
                    turn_id=None,
                    event_id=worker.last_event_id,
                    changed=False,
                    dropped=0,
                )
            futures = self._end_turns(ref.worker_id, "interrupted", include_queued=drop_queued)
            with self._state:
                event_id = self._workers[ref.worker_id].last_event_id
            self._start_next(ref.worker_id)
        self._await_ended(futures)
        return TurnInterruptAck(
            worker_ref=worker.ref,
            turn_id=running.turn_id if running is not None else None,
            event_id=event_id,
            changed=True,
            dropped=dropped,
        )

    def turn_detail(self, ref: WorkerRef, turn_id: str) -> TurnDetail:
        """Where a turn of this Worker is, and its reply once completed."""
        with self._state:
            return self._turn_detail(ref, turn_id)

    def wait_for_turn(self, ref: WorkerRef, turn_id: str, timeout: float) -> TurnDetail:
        """Like :meth:`turn_detail`, but first wait up to ``timeout`` seconds for the turn to
        end (returns at once when the Runtime stops or closes)."""
        _check_timeout(timeout)
        with self._state:
            self._turn_detail(ref, turn_id)
            turn = self._turns[turn_id]
            self._state.wait_for(
                lambda: turn.phase in _ENDED or self._closed or self._record.status == "stopped",
                timeout,
            )
            return self._turn_detail(ref, turn_id)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event as it commits and every text delta as it is
        generated, in order; returns the function that unsubscribes. It runs under the
        Runtime's lock, so it must only hand the message on (e.g. to a queue), never block."""
        with self._state:
            self._listeners = [*self._listeners, listener]

        def unsubscribe() -> None:
            with self._state:
                self._listeners = [item for item in self._listeners if item is not listener]

        return unsubscribe

    def _turn_detail(self, ref: WorkerRef, turn_id: str) -> TurnDetail:
        """(caller holds ``_state``)"""
        self._lookup(ref)
        turn = self._turns.get(turn_id) if isinstance(turn_id, str) else None
        if turn is None or turn.worker_id != ref.worker_id:
            raise TurnNotFound(ref.worker_id, str(turn_id))
        reply = None
        if turn.reply_sequence is not None:
            reply = self._transcripts[ref.worker_id][turn.reply_sequence - 1].content
        return TurnDetail(
            worker_ref=ref,
            turn_id=turn_id,
            phase=turn.phase,
            reason=turn.reason,
            reply=reply,
            usage=turn.usage,
            event_id=turn.end_event_id,
        )

    def _worker_turn(self, worker_id: WorkerId) -> WorkerTurn:
        """(caller holds ``_state``)"""
        slot = self._slots[worker_id]
        running = slot.running
        return WorkerTurn(
            state="idle" if running is None else "running",
            turn_id=None if running is None else running.turn_id,
            started_at=None if running is None else running.started_at,
            queued=len(slot.queue),
        )

    def _turn_event(
        self,
        event_id: int,
        kind: EventKind,
        at: str,
        turn: _Turn,
        *,
        message: str | None = None,
        reason: str | None = None,
        usage: TokenUsage | None = None,
    ) -> RuntimeEvent:
        text = message or kind.replace("_", " ")
        return RuntimeEvent(
            id=event_id,
            kind=kind,
            at=at,
            message=text,
            worker_ref=self.worker_ref(turn.worker_id),
            turn_id=turn.turn_id,
            reason=reason,
            usage=usage,
        )

    def _begin(self, turn: _Turn, at: str) -> None:
        """Mark a turn running (caller holds ``_state`` and has committed its start)."""
        turn.phase, turn.started_at = "running", at
        self._slots[turn.worker_id].running = turn

    def _launch(self, turn: _Turn) -> None:
        """Run a started turn's engine on the turn loop."""
        assert turn.resolved is not None and turn.resolved.engine is not None
        profile, engine = turn.resolved.profile, turn.resolved.engine
        turn.launched = True

        async def run() -> None:
            turn.task = asyncio.current_task()
            try:
                await drive_turn(
                    self._host, engine, turn.turn_id, profile.max_steps, profile.settings.timeout
                )
            finally:
                turn.task = None
                with self._state:
                    turn.gone = True
                    self._state.notify_all()

        self._loop.submit(run())

    def _start_next(self, worker_id: WorkerId) -> None:
        """Start the Worker's first queued turn if it is idle (caller holds its lock)."""
        with self._state:
            slot = self._slots[worker_id]
            if (
                self._closed
                or self._record.status != "running"
                or self._workers[worker_id].status != "running"
                or slot.running is not None
                or not slot.queue
            ):
                return
            turn = slot.queue[0]
        at = utc_now()

        def build(event_id: int) -> tuple[WorkerChange, Callable[[], None]]:
            with self._state:
                worker = self._workers[worker_id]
            updated = attrs.evolve(
                worker, turn_count=worker.turn_count + 1, last_event_id=event_id, updated_at=at
            )
            change = WorkerChange(
                worker=updated,
                records=(TurnStarted(turn_id=turn.turn_id, trigger=turn.trigger),),
                events=(self._turn_event(event_id, "turn_started", at, turn),),
            )

            def apply() -> None:
                self._apply(change)
                slot.queue.popleft()
                self._begin(turn, at)

            return change, apply

        self._commits.run(build)
        self._launch(turn)

    def _end_turns(self, worker_id: WorkerId, reason: str, *, include_queued: bool) -> list[_Turn]:
        """End the running turn (and the queued ones) as interrupted in one change, and cancel
        their engines; returns the turns whose tasks to wait for (caller holds the Worker's
        lock, or the Runtime's exclusively)."""
        with self._state:
            slot = self._slots[worker_id]
            ending = [slot.running] if slot.running is not None else []
            if include_queued:
                ending += slot.queue
        if not ending:
            return []
        at = utc_now()

        def build(first_id: int) -> tuple[WorkerChange, Callable[[], None]]:
            with self._state:
                worker = self._workers[worker_id]
                open_calls = {
                    turn.turn_id: self._open_calls(worker_id, turn.turn_id)
                    for turn in ending
                    if turn.phase == "running"
                }
            records: list[HistoryRecord] = []
            events: list[RuntimeEvent] = []
            sequence = worker.transcript_len
            for event_id, turn in enumerate(ending, start=first_id):
                for call in open_calls.get(turn.turn_id, ()):
                    sequence += 1
                    records.append(
                        _tool_result(
                            worker.ref,
                            sequence,
                            event_id,
                            at,
                            turn.turn_id,
                            ToolCall(
                                call_id=call.call_id or "",
                                name=call.tool_name or "",
                                arguments=call.content,
                            ),
                            f"the call did not finish: the turn was interrupted ({reason})",
                            True,
                        )
                    )
                records.append(
                    TurnFinished(
                        turn_id=turn.turn_id,
                        outcome="interrupted",
                        reason=reason,
                        started=turn.turn_id in open_calls,
                        turn_count=worker.turn_count,
                    )
                )
                events.append(
                    self._turn_event(
                        event_id,
                        "turn_interrupted",
                        at,
                        turn,
                        message=f"turn interrupted: {reason}",
                        reason=reason,
                        usage=turn.usage,
                    )
                )
            updated = attrs.evolve(
                worker, transcript_len=sequence, last_event_id=events[-1].id, updated_at=at
            )
            change = WorkerChange(worker=updated, records=tuple(records), events=tuple(events))

            def apply() -> None:
                self._apply(change)
                for turn, event in zip(ending, events, strict=True):
                    self._ended(turn, "interrupted", reason, event.id)

            return change, apply

        self._commits.run(build)
        for turn in ending:
            if turn.launched:
                self._loop.call_soon(turn.cancel)
            else:
                with self._state:
                    turn.gone = True
        return ending

    def _ended(self, turn: _Turn, phase: TurnPhase, reason: str | None, event_id: int) -> None:
        """Mark a turn ended (caller holds ``_state`` and has committed its end)."""
        slot = self._slots[turn.worker_id]
        if slot.running is turn:
            slot.running = None
        elif turn in slot.queue:
            slot.queue.remove(turn)
        turn.phase, turn.reason, turn.end_event_id = phase, reason, event_id
        self._state.notify_all()

    def _await_ended(self, turns: Sequence[_Turn]) -> None:
        """Wait (bounded) until the tasks of ended turns are gone, their streams closed."""
        if not turns or self._loop.in_loop_thread():
            return  # (in the loop's thread: the loop cannot finish them while we block it)
        with self._state:
            self._state.wait_for(lambda: all(turn.gone for turn in turns), ENGINE_STOP_WAIT)

    async def _blocking(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``function`` off the turn loop when it writes to a store that does I/O."""
        if self._persistence.backend == "memory":
            return function(*args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(function, *args, **kwargs)
        )

    def _running_turn(self, turn_id: str) -> tuple[_Turn, WorkerRecord]:
        """The turn and its Worker, or TurnEndedError (caller holds ``_state``)."""
        turn = self._turns[turn_id]
        if turn.phase != "running" or self._closed:
            raise TurnEndedError(turn_id)
        return turn, self._workers[turn.worker_id]

    # The TurnHost side, called by drive_turn on the turn loop.

    def _step_request(self, turn_id: str, step: int) -> StepRequest:
        with self._state:
            turn, worker = self._running_turn(turn_id)
            transcript = list(self._transcripts[turn.worker_id])
            interrupted = {
                item.turn_id
                for item in transcript
                if item.turn_id is not None
                and (ended := self._turns.get(item.turn_id)) is not None
                and ended.phase == "interrupted"
            }
        assert turn.resolved is not None
        messages = build_history(
            worker.definition.intent,
            transcript,
            interrupted=interrupted.__contains__,
            current_turn=turn_id,
            budget=turn.resolved.profile.context_budget,
        )
        return StepRequest(
            worker_id=turn.worker_id,
            turn_id=turn_id,
            step=step,
            messages=messages,
            tools=self._tools.specs(worker.definition.requested_capabilities),
        )

    def _publish_delta(self, turn_id: str, text: str) -> None:
        if not self._listeners:  # nobody to tell: just count it (no lock needed to read these)
            turn = self._turns.get(turn_id)
            if turn is None or turn.phase != "running" or self._closed:
                raise TurnEndedError(turn_id)
            turn.deltas += 1
            return
        with self._state:
            turn, worker = self._running_turn(turn_id)
            delta = TurnTextDelta(
                worker_ref=worker.ref, turn_id=turn_id, index=turn.deltas, text=text
            )
            turn.deltas += 1
            for listener in self._listeners:
                listener(delta)

    def _turn_change(
        self,
        turn_id: str,
        make: Callable[[_Turn, WorkerRecord, int, str], tuple[WorkerChange, Callable[[], None]]],
        *,
        ends_turn: bool = False,
    ) -> None:
        """Commit a change of a running turn, built by ``make(turn, worker, first event id,
        time)``; TurnEndedError if the turn has ended meanwhile. A change that ``ends_turn``
        then starts the next queued turn; if the store refuses it, the Worker's turns are
        abandoned rather than left looking like they run."""
        with self._state:
            worker_id = self._running_turn(turn_id)[0].worker_id
        with self._worker_change(worker_id):
            at = utc_now()

            def build(event_id: int) -> tuple[WorkerChange, Callable[[], None]]:
                with self._state:
                    turn, worker = self._running_turn(turn_id)
                return make(turn, worker, event_id, at)

            try:
                self._commits.run(build)
            except WorkerRuntimeError as error:
                if not ends_turn:
                    raise
                self._abandon_turns(worker_id, error)
                return
            if ends_turn:
                self._start_next(worker_id)

    def _complete(self, turn_id: str, message: AssistantMessage, usage: Usage | None) -> None:
        step_usage = _usage_of(usage)

        def make(
            turn: _Turn, worker: WorkerRecord, event_id: int, at: str
        ) -> tuple[WorkerChange, Callable[[], None]]:
            sequence = worker.transcript_len + 1
            turn_usage = _add_usage(turn.usage, step_usage)
            records: list[HistoryRecord] = [
                TranscriptEntry(
                    sequence=sequence,
                    worker_ref=worker.ref,
                    role="assistant",
                    content=message.text,
                    event_id=event_id,
                    at=at,
                    turn_id=turn_id,
                )
            ]
            if usage is not None:
                records.append(StepUsage(turn_id=turn_id, usage=step_usage))
            records.append(
                TurnFinished(
                    turn_id=turn_id,
                    outcome="completed",
                    reason=None,
                    started=True,
                    turn_count=worker.turn_count,
                )
            )
            event = self._turn_event(event_id, "turn_completed", at, turn, usage=turn_usage)
            updated = attrs.evolve(
                worker,
                transcript_len=sequence,
                last_event_id=event_id,
                updated_at=at,
                usage=_add_usage(worker.usage, step_usage),
            )
            change = WorkerChange(worker=updated, records=tuple(records), events=(event,))

            def apply() -> None:
                self._apply(change)
                turn.usage, turn.reply_sequence = turn_usage, sequence
                self._ended(turn, "completed", None, event_id)

            return change, apply

        self._turn_change(turn_id, make, ends_turn=True)

    def _fail(self, turn_id: str, failure: StepFailedError) -> None:
        def make(
            turn: _Turn, worker: WorkerRecord, event_id: int, at: str
        ) -> tuple[WorkerChange, Callable[[], None]]:
            record = TurnFinished(
                turn_id=turn_id,
                outcome="failed",
                reason=failure.reason,
                started=True,
                turn_count=worker.turn_count,
            )
            event = self._turn_event(
                event_id,
                "turn_failed",
                at,
                turn,
                message=f"turn failed: {failure.message}",
                reason=failure.reason,
                usage=turn.usage,
            )
            updated = attrs.evolve(worker, last_event_id=event_id, updated_at=at)
            change = WorkerChange(worker=updated, records=(record,), events=(event,))

            def apply() -> None:
                self._apply(change)
                self._ended(turn, "failed", failure.reason, event_id)

            return change, apply

        self._turn_change(turn_id, make, ends_turn=True)

    def _abandon_turns(self, worker_id: WorkerId, error: WorkerRuntimeError) -> None:
        """The store refused to record a turn's end: leave the Worker idle anyway (a turn never
        shows running with nothing executing it) and say so; a reopen records these turns as
        interrupted (``runtime_restarted``). Caller holds the Worker's lock."""
        with self._state:
            slot = self._slots[worker_id]
            abandoned = [turn for turn in (slot.running, *slot.queue) if turn is not None]
            for turn in abandoned:
                turn.phase, turn.reason = "failed", error.code
            slot.running = None
            slot.queue.clear()
            diagnostic = RuntimeDiagnostic(
                id=f"turn.not_recorded@{worker_id}",
                severity="error",
                code="turn.not_recorded",
                message=f"the end of {len(abandoned)} turn(s) of worker {worker_id} could not be "
                f"recorded ({error.message}); the Worker was left idle",
                worker_ref=self.worker_ref(worker_id),
            )
            self._diagnostics[diagnostic.id] = diagnostic
            self._state.notify_all()

    async def _call_tools(
        self, turn_id: str, message: AssistantMessage, usage: Usage | None
    ) -> None:
        """Record the step's message with its calls, then run each call and record its result.
        Each result is recorded before the next call starts, so at any moment only calls of
        the running step lack results, and an interrupt closes exactly those."""
        await self._blocking(self._record_calls, turn_id, message, usage)
        for index, call in enumerate(message.tool_calls):
            if index:
                await self._blocking(self._tool_started, turn_id, call)
            started = time.monotonic()
            content, is_error = await self._execute_tool(turn_id, call)
            elapsed = time.monotonic() - started
            await self._blocking(self._record_result, turn_id, call, content, is_error, elapsed)

    async def _execute_tool(self, turn_id: str, call: ToolCall) -> tuple[str, bool]:
        """Run one call; (result text, is_error)."""
        with self._state:
            _, worker = self._running_turn(turn_id)
        capabilities = worker.definition.requested_capabilities
        return await self._tools.run(worker.ref, capabilities, call)

    def _record_calls(self, turn_id: str, message: AssistantMessage, usage: Usage | None) -> None:
        step_usage = _usage_of(usage)

        def make(
            turn: _Turn, worker: WorkerRecord, event_id: int, at: str
        ) -> tuple[WorkerChange, Callable[[], None]]:
            records: list[HistoryRecord] = []
            sequence = worker.transcript_len
            if message.text:
                sequence += 1
                records.append(
                    TranscriptEntry(
                        sequence=sequence,
                        worker_ref=worker.ref,
                        role="assistant",
                        content=message.text,
                        event_id=event_id,
                        at=at,
                        turn_id=turn_id,
                    )
                )
            for call in message.tool_calls:
                sequence += 1
                records.append(
                    TranscriptEntry(
                        sequence=sequence,
                        worker_ref=worker.ref,
                        role="tool_call",
                        content=call.arguments,
                        event_id=event_id,
                        at=at,
                        turn_id=turn_id,
                        call_id=call.call_id,
                        tool_name=call.name,
                    )
                )
            if usage is not None:
                records.append(StepUsage(turn_id=turn_id, usage=step_usage))
            event = self._tool_event(event_id, "tool_started", at, turn, message.tool_calls[0])
            updated = attrs.evolve(
                worker,
                transcript_len=sequence,
                last_event_id=event_id,
                updated_at=at,
                usage=_add_usage(worker.usage, step_usage),
            )
            change = WorkerChange(worker=updated, records=tuple(records), events=(event,))

            def apply() -> None:
                self._apply(change)
                turn.usage = _add_usage(turn.usage, step_usage)

            return change, apply

        self._turn_change(turn_id, make)

    def _tool_started(self, turn_id: str, call: ToolCall) -> None:
        def make(
            turn: _Turn, worker: WorkerRecord, event_id: int, at: str
        ) -> tuple[WorkerChange, Callable[[], None]]:
            event = self._tool_event(event_id, "tool_started", at, turn, call)
            updated = attrs.evolve(worker, last_event_id=event_id, updated_at=at)
            change = WorkerChange(worker=updated, records=(), events=(event,))
            return change, lambda: self._apply(change)

        self._turn_change(turn_id, make)

    def _record_result(
        self, turn_id: str, call: ToolCall, content: str, is_error: bool, elapsed: float
    ) -> None:
        def make(
            turn: _Turn, worker: WorkerRecord, event_id: int, at: str
        ) -> tuple[WorkerChange, Callable[[], None]]:
            sequence = worker.transcript_len + 1
            entry = _tool_result(
                worker.ref, sequence, event_id, at, turn_id, call, content, is_error
            )
            outcome = "error" if is_error else "ok"
            event = self._tool_event(
                event_id,
                "tool_finished",
                at,
                turn,
                call,
                message=f"tool {call.name} finished: {outcome} in {elapsed * 1000:.0f} ms",
                reason=None if not is_error else "tool_error",
            )
            updated = attrs.evolve(
                worker, transcript_len=sequence, last_event_id=event_id, updated_at=at
            )
            change = WorkerChange(worker=updated, records=(entry,), events=(event,))
            return change, lambda: self._apply(change)

        self._turn_change(turn_id, make)

    def _tool_event(
        self,
        event_id: int,
        kind: EventKind,
        at: str,
        turn: _Turn,
        call: ToolCall,
        *,
        message: str | None = None,
        reason: str | None = None,
    ) -> RuntimeEvent:
        return self._turn_event(
            event_id,
            kind,
            at,
            turn,
            message=message or f"tool {call.name} started (call {call.call_id})",
            reason=reason,
        )

    def _open_calls(self, worker_id: WorkerId, turn_id: str) -> list[TranscriptEntry]:
        """The turn's recorded tool calls that have no result yet, in order (caller holds
        ``_state``). Results follow their calls, so a backward scan sees a result first."""
        open_calls: list[TranscriptEntry] = []
        answered: set[str | None] = set()
        for entry in reversed(self._transcripts[worker_id]):
            if entry.turn_id != turn_id:
                continue
            if entry.role in ("user", "system"):
                break  # the turn's input: nothing of the turn lies before it
            if entry.role == "tool_result":
                answered.add(entry.call_id)
            elif entry.role == "tool_call" and entry.call_id not in answered:
                open_calls.append(entry)
        return open_calls[::-1]

    def _restore_turns(self) -> None:
        """Rebuild turn bookkeeping from the restored event log (constructor only)."""
        for event in self._events:
            if event.turn_id is None or event.worker_ref is None:
                continue
            worker_id = event.worker_ref.worker_id
            turn = self._turns.get(event.turn_id)
            if turn is None:
                turn = _Turn(event.turn_id, worker_id, "user", None)
                self._turns[event.turn_id] = turn
                slot = self._slots.setdefault(worker_id, _Slot())
                slot.order.append(event.turn_id)
                slot.queue.append(turn)
            slot = self._slots[worker_id]
            if event.kind == "turn_started":
                slot.queue.remove(turn)
                turn.phase, turn.started_at = "running", event.at
                slot.running = turn
            elif event.kind in _END_KINDS:
                self._ended(turn, _END_KINDS[event.kind], event.reason, event.id)
                if event.usage is not None:
                    turn.usage = event.usage
        for transcript in self._transcripts.values():
            for entry in transcript:
                if entry.role == "assistant" and entry.turn_id in self._turns:
                    turn = self._turns[entry.turn_id]
                    if turn.phase == "completed":
                        turn.reply_sequence = entry.sequence

    def _interrupt_restored_turns(self) -> None:
        """Record every turn the store left unended as interrupted, ``runtime_restarted``: the
        process that ran it is gone, and nothing is re-run behind a client's back."""
        if self._record.status != "running":
            return
        with self._runtime_lock.exclusive():
            for worker_id in sorted(self._slots):
                self._end_turns(worker_id, "runtime_restarted", include_queued=True)

    # --- internals ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _worker_change(self, worker_id: WorkerId) -> Iterator[None]:
        """Hold what a change of one Worker needs: the Runtime-wide lock shared, and the
        Worker's own lock, so its changes come one at a time and others' run alongside."""
        with self._runtime_lock.shared():
            with self._state:
                lock = self._worker_locks.setdefault(worker_id, threading.Lock())
            with lock:
                yield

    @property
    def commit_observers(self) -> list[CommitObserver]:
        """Called after each commit with the number of changes it committed (they shared one
        sync) and its seconds: what ``yoi_store_commit_batch_size`` reports."""
        return self._commits.observers

    def _finish(
        self,
        ref: WorkerRef,
        status: WorkerStatus,
        kind: EventKind,
        reason: str | None,
        default_message: str,
    ) -> WorkerLifecycleAck:
        if reason is not None and not isinstance(reason, str):
            raise InvalidRequest("reason must be a string")
        check_model(LifecycleRequest(reason=reason))
        reason = reason.strip() if reason is not None and reason.strip() else None
        with self._worker_change(ref.worker_id):
            with self._state:
                self._check_mutable()
                worker = self._lookup(ref)
                if worker.status != "running":
                    return WorkerLifecycleAck(
                        worker_ref=worker.ref,
                        status=worker.status,
                        event_id=worker.last_event_id,
                        changed=False,
                    )
            ended = self._end_turns(ref.worker_id, f"worker_{status}", include_queued=True)
            at = utc_now()

            def build(event_id: int) -> tuple[WorkerStatusChanged, Callable[[], None]]:
                with self._state:
                    worker = self._workers[ref.worker_id]
                updated = attrs.evolve(
                    worker,
                    status=status,
                    status_reason=reason,
                    updated_at=at,
                    last_event_id=event_id,
                )
                event = self._event(event_id, kind, at, reason or default_message, worker.ref)

                def apply() -> None:
                    self._workers[ref.worker_id] = updated
                    self._append_events(event)

                return WorkerStatusChanged(worker=updated, events=(event,)), apply

            change = self._commits.run(build)
        self._await_ended(ended)
        return WorkerLifecycleAck(
            worker_ref=change.worker.ref,
            status=status,
            event_id=change.events[0].id,
            changed=True,
        )

    def _event(
        self,
        event_id: int,
        kind: EventKind,
        at: str,
        message: str,
        ref: WorkerRef | None,
        *,
        turn_id: str | None = None,
    ) -> RuntimeEvent:
        return RuntimeEvent(
            id=event_id, kind=kind, at=at, message=message, worker_ref=ref, turn_id=turn_id
        )

    def _install(self, worker: WorkerRecord, transcript: list[TranscriptEntry]) -> None:
        """Add a Worker (caller holds ``_state``)."""
        worker_id = worker.ref.worker_id
        self._workers[worker_id] = worker
        self._transcripts[worker_id] = transcript
        self._slots.setdefault(worker_id, _Slot())
        for diagnostic in _worker_diagnostics(worker):
            self._diagnostics[diagnostic.id] = diagnostic

    def _append_events(self, *events: RuntimeEvent) -> None:
        """Commit events (caller holds ``_state``), wake every waiter, tell every listener."""
        self._events.extend(events)
        self._state.notify_all()
        for event in events:
            for listener in self._listeners:
                listener(event)

    def _apply(self, change: WorkerChange) -> None:
        """Take a committed WorkerChange into memory (caller holds ``_state``)."""
        worker = change.worker
        self._workers[worker.ref.worker_id] = worker
        transcript = self._transcripts[worker.ref.worker_id]
        transcript += [record for record in change.records if isinstance(record, TranscriptEntry)]
        self._append_events(*change.events)

    def _check_mutable(self) -> None:
        if self._closed:
            raise RuntimeClosed(self._record.runtime_id)
        self._check_lease()
        if self._record.status == "stopped":
            raise RuntimeStopped(self._record.runtime_id)

    def _check_lease(self) -> None:
        """Refuse once the hosting lease is lost: what memory holds may be stale."""
        if self._lease_lost is not None:
            raise LeaseLost(self._record.runtime_id, self._lease_lost)

    def _lookup(self, ref: WorkerRef) -> WorkerRecord:
        """The Worker ``ref`` names, after the authority checks (caller holds ``_state``)."""
        if not isinstance(ref, WorkerRef):
            raise InvalidRequest("expected a WorkerRef")
        runtime_id = self._record.runtime_id
        if ref.runtime_id != runtime_id:
            raise WrongRuntime(ref.worker_id, ref.runtime_id, runtime_id)
        self._check_lease()
        worker = self._workers.get(ref.worker_id)
        if worker is None:
            raise WorkerNotFound(ref.worker_id, runtime_id)
        return worker

    def _check_cursor(self, cursor: EventCursor) -> None:
        """Authority and range checks of an event cursor (caller holds ``_state``)."""
        self._check_lease()
        if not isinstance(cursor, EventCursor):
            raise InvalidRequest("expected an EventCursor")
        runtime_id = self._record.runtime_id
        if cursor.runtime_id != runtime_id:
            raise WrongRuntimeCursor(cursor.runtime_id, runtime_id)
        next_event_id = cursor.next_event_id
        if (
            not isinstance(next_event_id, int)
            or isinstance(next_event_id, bool)
            or next_event_id < 1
        ):
            raise InvalidRequest(
                f"event cursor next_event_id must be at least 1, got {next_event_id!r}"
            )
        if next_event_id > len(self._events) + 1:
            raise InvalidRequest(
                f"event cursor {next_event_id} is past the end of the log "
                f"(the next event will be {len(self._events) + 1})"
            )
