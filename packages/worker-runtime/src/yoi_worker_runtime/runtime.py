"""The Runtime: hosts Workers, keeps their transcripts, an event log and diagnostics.

Concurrency: two locks, always taken in this order. ``_writer`` serialises mutations (so event
ids are dense and persistence sees changes in event order); ``_state`` (a Condition) guards the
in-memory state and is held only for short, I/O-free sections. A mutation validates and computes
its outcome under ``_state``, releases it, writes the outcome through persistence holding only
``_writer``, then applies it under ``_state``. Readers take only ``_state``, so they never wait
behind a slow store write, and a failed write leaves memory untouched.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import ParamSpec, TypeVar

import attrs

from yoi_worker_runtime.codec import check_model
from yoi_worker_runtime.errors import (
    InvalidRequest,
    InvalidWorkerId,
    LimitTooLarge,
    RuntimeClosed,
    RuntimeStopped,
    StoreCorrupt,
    StoreIo,
    WorkerConflict,
    WorkerNotFound,
    WorkerNotRunning,
    WorkerRuntimeError,
    WrongRuntime,
    WrongRuntimeCursor,
)
from yoi_worker_runtime.ids import (
    RuntimeId,
    WorkerId,
    new_runtime_id,
    new_worker_id,
    validate_worker_name,
)
from yoi_worker_runtime.model import (
    Backend,
    CreateWorkerRequest,
    EventBatch,
    EventCursor,
    EventKind,
    RuntimeDiagnostic,
    RuntimeEvent,
    RuntimeLifecycleAck,
    RuntimeLimits,
    RuntimeState,
    RuntimeStatus,
    RuntimeSummary,
    TranscriptEntry,
    TranscriptProjection,
    WorkerDefinition,
    WorkerDetail,
    WorkerInput,
    WorkerInteractionAck,
    WorkerLifecycleAck,
    WorkerRecord,
    WorkerRef,
    WorkerStatus,
    WorkerSummary,
)
from yoi_worker_runtime.persistence import (
    MemoryPersistence,
    RestoredRuntime,
    RestoredWorker,
    RuntimePersistence,
)
from yoi_worker_runtime.timestamps import utc_now

P = ParamSpec("P")
R = TypeVar("R")


def _store_call(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call persistence; typed errors pass through, OSError becomes StoreIo (no paths)."""
    try:
        return function(*args, **kwargs)
    except WorkerRuntimeError:
        raise
    except OSError as exc:
        raise StoreIo(exc.strerror or type(exc).__name__) from exc


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


def _detail_of(worker: WorkerRecord) -> WorkerDetail:
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
    ) -> None:
        """Use :meth:`open`; this only assembles already checked state."""
        self._writer = threading.Lock()
        self._state = threading.Condition(threading.Lock())
        self._record = record
        self._limits = limits
        self._persistence = persistence
        self._closed = False
        self._events = events
        self._workers: dict[WorkerId, WorkerRecord] = {}
        self._transcripts: dict[WorkerId, list[TranscriptEntry]] = {}
        self._diagnostics: dict[str, RuntimeDiagnostic] = {item.id: item for item in diagnostics}
        for item in workers:
            self._install(item.worker, list(item.transcript))

    # --- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        runtime_id: RuntimeId | None = None,
        display_name: str | None = None,
        limits: RuntimeLimits | None = None,
        persistence: RuntimePersistence | None = None,
    ) -> Runtime:
        """Open a Runtime: restore it from ``persistence`` or start a fresh one (event 1 is
        ``runtime_started``). Without ``persistence`` it lives in memory only.

        ``runtime_id`` must follow the Worker name rule; a fresh Runtime without one gets a
        generated id. When the store already holds a Runtime, a given ``runtime_id`` must match
        it and the stored display name is kept. The Runtime owns ``persistence`` from here on:
        it closes it in :meth:`close`, and at once if opening fails.
        """
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
        store = persistence if persistence is not None else MemoryPersistence()
        try:
            restored = _store_call(store.load)
            if restored is None:
                return cls._start(store, runtime_id, display_name, limits)
            _check_restored(restored)
            stored_id = restored.runtime.runtime_id
            if runtime_id is not None and runtime_id != stored_id:
                raise InvalidRequest(
                    f"runtime id {runtime_id} does not match the stored runtime {stored_id}"
                )
            diagnostics = list(restored.diagnostics)
            for item in restored.workers:
                diagnostics += _worker_diagnostics(item.worker)
            return cls(
                record=restored.runtime,
                limits=limits,
                persistence=store,
                events=list(restored.events),
                workers=restored.workers,
                diagnostics=diagnostics,
            )
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
        _store_call(store.record_runtime_started, record, event)
        return cls(
            record=record,
            limits=limits,
            persistence=store,
            events=[event],
            workers=(),
            diagnostics=(),
        )

    def close(self) -> None:
        """Release the store. Workers keep their status (a persistent Runtime reopens with them);
        later mutations raise RuntimeClosed, reads keep working, waiters wake up. Idempotent."""
        with self._writer:
            with self._state:
                if self._closed:
                    return
                self._closed = True
                self._state.notify_all()
            _store_call(self._persistence.close)

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
            workers = list(self._workers.values())
        workers.sort(key=lambda worker: worker.ref.worker_id)
        return [_summary_of(worker) for worker in workers]

    def worker_detail(self, ref: WorkerRef) -> WorkerDetail:
        with self._state:
            worker = self._lookup(ref)
        return _detail_of(worker)

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
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not math.isfinite(timeout)
            or timeout < 0
        ):
            raise InvalidRequest(
                f"timeout must be a finite number of seconds >= 0, got {timeout!r}"
            )
        _check_limit(limit, self._limits.max_event_batch_items)
        with self._state:
            self._check_cursor(cursor)
            self._state.wait_for(
                lambda: (
                    len(self._events) >= cursor.next_event_id
                    or self._record.status == "stopped"
                    or self._closed
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
        with self._writer:
            with self._state:
                self._check_mutable()
                if request.name is not None:
                    validate_worker_name(request.name)  # InvalidWorkerId says which rule failed
                check_model(request)
                if request.name is not None:
                    worker_id = request.name
                    if worker_id in self._workers:
                        raise WorkerConflict(
                            worker_id, f"already exists in runtime {self._record.runtime_id}"
                        )
                else:
                    worker_id = new_worker_id()
                    while worker_id in self._workers:  # 74 random bits: only for certainty
                        worker_id = new_worker_id()
                event_id = len(self._events) + 1
            ref = self.worker_ref(worker_id)
            restored = None
            if request.name is not None:
                restored = _store_call(self._persistence.claim_worker, ref)
            at = utc_now()
            if restored is None:
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
                _store_call(self._persistence.record_worker_created, worker, event)
            else:
                if restored.worker.ref != ref:
                    raise StoreCorrupt(
                        f"the store restored worker {restored.worker.ref.worker_id} for {worker_id}"
                    )
                _check_transcript(ref, restored.worker, restored.transcript)
                transcript = list(restored.transcript)
                worker = attrs.evolve(
                    restored.worker,
                    status="running",
                    status_reason=None,
                    updated_at=at,
                    last_event_id=event_id,
                )
                event = self._event(
                    event_id, "worker_restored", at, f"worker {worker_id} restored", ref
                )
                _store_call(
                    self._persistence.record_worker_restored, worker, restored.transcript, event
                )
            with self._state:
                self._install(worker, transcript)
                self._append_events(event)
        return _detail_of(worker)

    def send_input(self, ref: WorkerRef, worker_input: WorkerInput) -> WorkerInteractionAck:
        """Append user or system input to a running Worker's transcript."""
        with self._writer:
            with self._state:
                self._check_mutable()
                if not isinstance(worker_input, WorkerInput):
                    raise InvalidRequest("expected a WorkerInput")
                check_model(worker_input)
                worker = self._lookup(ref)
                if worker.status != "running":
                    raise WorkerNotRunning(ref.worker_id)
                event_id = len(self._events) + 1
            at = utc_now()
            sequence = worker.transcript_len + 1
            entry = TranscriptEntry(
                sequence=sequence,
                worker_ref=worker.ref,
                role=worker_input.kind,
                content=worker_input.content,
                event_id=event_id,
                at=at,
            )
            updated = attrs.evolve(
                worker, transcript_len=sequence, last_event_id=event_id, updated_at=at
            )
            event = self._event(
                event_id,
                "worker_input_accepted",
                at,
                f"{worker_input.kind} input accepted",
                worker.ref,
            )
            _store_call(self._persistence.record_input, updated, entry, event)
            with self._state:
                self._workers[ref.worker_id] = updated
                self._transcripts[ref.worker_id].append(entry)
                self._append_events(event)
        return WorkerInteractionAck(
            worker_ref=updated.ref,
            status=updated.status,
            transcript_sequence=sequence,
            event_id=event_id,
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
        with self._writer:
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
                running = sorted(
                    (worker for worker in self._workers.values() if worker.status == "running"),
                    key=lambda worker: worker.ref.worker_id,
                )
                next_id = len(self._events) + 1
            at = utc_now()
            runtime_id = self._record.runtime_id
            stopped: list[WorkerRecord] = []
            events: list[RuntimeEvent] = []
            for event_id, worker in enumerate(running, start=next_id):
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
            final_id = next_id + len(running)
            events.append(
                self._event(final_id, "runtime_stopped", at, f"runtime {runtime_id} stopped", None)
            )
            record = attrs.evolve(self._record, status="stopped", stopped_at=at)
            _store_call(self._persistence.record_runtime_stopped, record, stopped, events)
            with self._state:
                for worker in stopped:
                    self._workers[worker.ref.worker_id] = worker
                self._record = record
                self._append_events(*events)
        return RuntimeLifecycleAck(
            runtime_id=runtime_id, status="stopped", event_id=final_id, changed=True
        )

    # --- internals ----------------------------------------------------------------------------

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
        reason = reason.strip() if reason is not None and reason.strip() else None
        with self._writer:
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
                event_id = len(self._events) + 1
            at = utc_now()
            updated = attrs.evolve(
                worker, status=status, status_reason=reason, updated_at=at, last_event_id=event_id
            )
            event = self._event(event_id, kind, at, reason or default_message, worker.ref)
            _store_call(self._persistence.record_worker_status, updated, event)
            with self._state:
                self._workers[ref.worker_id] = updated
                self._append_events(event)
        return WorkerLifecycleAck(
            worker_ref=updated.ref, status=status, event_id=event_id, changed=True
        )

    def _event(
        self, event_id: int, kind: EventKind, at: str, message: str, ref: WorkerRef | None
    ) -> RuntimeEvent:
        return RuntimeEvent(id=event_id, kind=kind, at=at, message=message, worker_ref=ref)

    def _install(self, worker: WorkerRecord, transcript: list[TranscriptEntry]) -> None:
        """Add a Worker (caller holds ``_state`` or is the constructor)."""
        worker_id = worker.ref.worker_id
        self._workers[worker_id] = worker
        self._transcripts[worker_id] = transcript
        for diagnostic in _worker_diagnostics(worker):
            self._diagnostics[diagnostic.id] = diagnostic

    def _append_events(self, *events: RuntimeEvent) -> None:
        """Commit events (caller holds ``_state``) and wake every waiter."""
        self._events.extend(events)
        self._state.notify_all()

    def _check_mutable(self) -> None:
        if self._closed:
            raise RuntimeClosed(self._record.runtime_id)
        if self._record.status == "stopped":
            raise RuntimeStopped(self._record.runtime_id)

    def _lookup(self, ref: WorkerRef) -> WorkerRecord:
        """The Worker ``ref`` names, after the authority checks (caller holds ``_state``)."""
        if not isinstance(ref, WorkerRef):
            raise InvalidRequest("expected a WorkerRef")
        runtime_id = self._record.runtime_id
        if ref.runtime_id != runtime_id:
            raise WrongRuntime(ref.worker_id, ref.runtime_id, runtime_id)
        worker = self._workers.get(ref.worker_id)
        if worker is None:
            raise WorkerNotFound(ref.worker_id, runtime_id)
        return worker

    def _check_cursor(self, cursor: EventCursor) -> None:
        """Authority and range checks of an event cursor (caller holds ``_state``)."""
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
