"""The persistence seam: how a Runtime hands every change to a store before it takes effect.

The Runtime is write-ahead: for each mutation it first computes the complete outcome, a
:data:`Change` (new records, transcript entries, the events with their ids), and changes memory
only once the store says the change is durable. A change goes through three calls:

- :meth:`RuntimePersistence.prepare` writes everything of it except its commit (transcript
  entries, Pod records), durably, and returns a token. It runs in the calling thread, so
  different Workers' changes prepare in parallel (one Worker's changes come one at a time).
- :meth:`RuntimePersistence.commit` makes a batch of prepared changes durable together, in
  event-id order: a batch holds consecutive event ids, and batches come one at a time, each
  after the one before it (group commit: concurrent changes share one sync).
- :meth:`RuntimePersistence.abort` undoes a prepared change whose commit failed (or that was
  given up because an earlier change failed).

So a store that raises leaves the Runtime exactly as it was: a failed commit fails every change
of its batch and every change after it, and the event ids they held are used again.

Failures: raise StoreIo, StoreMissing or StoreCorrupt (from ``yoi_worker_runtime.errors``) with
store-relative descriptions, never absolute paths. A plain OSError is turned into StoreIo, or
into InsufficientStorage (a StoreIo) when it says the store is out of space.
``claim_worker`` may also raise WorkerConflict.

The core ships :class:`MemoryPersistence`, which keeps nothing; the ``fs-store`` feature provides
``yoi_worker_runtime.store_backed``, which keeps Workers as Pods (pod-store) and transcripts and
events as sessions (session-store), on any backend of either store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import attrs

from yoi_worker_runtime.model import (
    Backend,
    InputKind,
    RuntimeDiagnostic,
    RuntimeEvent,
    RuntimeState,
    StoreSchemes,
    TokenUsage,
    TranscriptEntry,
    TurnPhase,
    WorkerRecord,
    WorkerRef,
)


@attrs.frozen(kw_only=True)
class RestoredTurn:
    """A turn as a Worker's history records it: ``queued`` (input only), ``running`` (started,
    never ended: the process stopped under it) or how it ended."""

    turn_id: str
    phase: TurnPhase
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RestoredWorker:
    """A Worker as a store hands it back: its record, its whole transcript in order, and the
    turns its history records (from ``claim_worker``; ``load`` may leave them out, since the
    Runtime's own event log tells it the same)."""

    worker: WorkerRecord
    transcript: tuple[TranscriptEntry, ...] = ()
    turns: tuple[RestoredTurn, ...] = ()
    #: The Runtime that hosted it before (``claim_worker``), when the store names one.
    former_host: str | None = None


@attrs.frozen(kw_only=True)
class WorkerLocation:
    """What the store says of a Worker this Runtime does not host: which Runtime does, the REST
    URL that Runtime advertises, and whether it is alive (``live`` false: its hosting lease
    lapsed, so nobody serves the Worker until it is restored)."""

    runtime_id: str
    url: str | None
    live: bool
    reason: str


@attrs.frozen(kw_only=True)
class RestoredRuntime:
    """Everything ``load()`` found: the Runtime's record, Workers, event log, and problems met
    on the way (a torn tail, a stray file) as diagnostics rather than a failure to load."""

    runtime: RuntimeState
    workers: tuple[RestoredWorker, ...] = ()
    events: tuple[RuntimeEvent, ...] = ()
    diagnostics: tuple[RuntimeDiagnostic, ...] = ()


@attrs.frozen(kw_only=True)
class TurnStarted:
    """A turn began (the session's ``invoke``); ``trigger`` is the kind of input it answers."""

    turn_id: str
    trigger: InputKind


@attrs.frozen(kw_only=True)
class StepUsage:
    """Tokens one engine step used (the session's ``llm_usage``)."""

    turn_id: str
    usage: TokenUsage


@attrs.frozen(kw_only=True)
class TurnFinished:
    """A turn ended: the session's ``turn_end`` (for a turn that started; ``turn_count`` is the
    Worker's count of started turns, this one included) then ``run_completed`` or
    ``run_errored``. A queued turn dropped before it started ends too (``started`` false)."""

    turn_id: str
    outcome: Literal["completed", "failed", "interrupted"]
    reason: str | None
    started: bool
    turn_count: int


#: What a Worker's change writes to its history, in order.
HistoryRecord: TypeAlias = TranscriptEntry | TurnStarted | StepUsage | TurnFinished


@attrs.frozen(kw_only=True)
class WorkerChange:
    """One all-or-nothing change of a running Worker: its record after the change, what it
    appends to the Worker's history (transcript items and turn records, in order), and its
    events. Input, a turn's start, each completed step and a turn's end are such changes."""

    worker: WorkerRecord
    records: tuple[HistoryRecord, ...]
    events: tuple[RuntimeEvent, ...]


@attrs.frozen(kw_only=True)
class WorkerCreated:
    """A new Worker (transcript empty) and its ``worker_created`` event."""

    worker: WorkerRecord
    events: tuple[RuntimeEvent, ...]


@attrs.frozen(kw_only=True)
class WorkerRestored:
    """A Worker brought back by ``claim_worker``, now running here; ``worker_restored``."""

    worker: WorkerRecord
    transcript: tuple[TranscriptEntry, ...]
    events: tuple[RuntimeEvent, ...]


@attrs.frozen(kw_only=True)
class WorkerStatusChanged:
    """A Worker stopped or cancelled: the Worker after it and the event."""

    worker: WorkerRecord
    events: tuple[RuntimeEvent, ...]


@attrs.frozen(kw_only=True)
class RuntimeStop:
    """The Runtime stopped: its record, every Worker it stopped, and the events (one
    ``worker_stopped`` per Worker, then ``runtime_stopped``)."""

    runtime: RuntimeState
    workers: tuple[WorkerRecord, ...]
    events: tuple[RuntimeEvent, ...]


#: Every change a Runtime makes after it started; each has its ``events`` (at least one).
Change: TypeAlias = (
    WorkerCreated | WorkerRestored | WorkerChange | WorkerStatusChanged | RuntimeStop
)


@runtime_checkable
class RuntimePersistence(Protocol):
    """Where a Runtime's state lives; see the module docstring for the order of calls."""

    @property
    def backend(self) -> Backend:
        """Reported in RuntimeSummary.backend: ``memory`` or ``store``."""
        ...

    @property
    def stores(self) -> StoreSchemes | None:
        """Reported in RuntimeSummary.stores: the schemes of the stores holding the Runtime
        (None when it lives in memory only)."""
        ...

    def load(self) -> RestoredRuntime | None:
        """The stored Runtime, or None when the store holds none yet (a fresh Runtime)."""
        ...

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        """Called before a caller-named Worker is created. Return None to start it fresh,
        a RestoredWorker (with ``worker.ref == ref``) to bring back what the store kept under
        that name, or raise WorkerConflict when another live Runtime hosts it."""
        ...

    def record_runtime_started(self, runtime: RuntimeState, event: RuntimeEvent) -> None:
        """A fresh Runtime: its record and event 1 (``runtime_started``)."""
        ...

    def locate_worker(self, worker_id: str) -> WorkerLocation | None:
        """Where the store says ``worker_id`` lives, when another Runtime hosts (or hosted) it;
        None when the store knows no such Worker or cannot tell. Never raises."""
        ...

    def orphans(self) -> list[str]:
        """Ids of Workers the store holds as running under a Runtime whose hosting lease
        lapsed (it crashed or was cut off): what adoption may restore here."""
        ...

    def on_lease_lost(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` once if the store finds this Runtime's hosting lease lost
        (a shared store's lease lapsed): the Runtime must write nothing more."""
        ...

    def prepare(self, change: Change) -> object:
        """Write everything of ``change`` but its commit, durably; a token for the other two
        calls. On failure, nothing of it remains."""
        ...

    def commit(self, prepared: Sequence[object]) -> None:
        """Commit prepared changes together (their events are consecutive and follow the last
        committed one): all of them, durably, or (raising) none of them."""
        ...

    def abort(self, prepared: object) -> None:
        """Undo a prepared change that will not be committed. If that fails, raise StoreIo and
        refuse every later change until the Runtime is reopened (a reopen repairs)."""
        ...

    def close(self) -> None:
        """Release the store (locks, handles). Called once, by ``Runtime.close()``."""
        ...


class MemoryPersistence:
    """The default: state lives only in the Runtime's memory, so every write trivially succeeds."""

    @property
    def backend(self) -> Backend:
        return "memory"

    @property
    def stores(self) -> StoreSchemes | None:
        return None

    def load(self) -> RestoredRuntime | None:
        return None

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        return None

    def record_runtime_started(self, runtime: RuntimeState, event: RuntimeEvent) -> None:
        pass

    def locate_worker(self, worker_id: str) -> WorkerLocation | None:
        return None

    def orphans(self) -> list[str]:
        return []

    def on_lease_lost(self, callback: Callable[[str], None]) -> None:
        pass  # nothing shared, no lease to lose

    def prepare(self, change: Change) -> object:
        return change

    def commit(self, prepared: Sequence[object]) -> None:
        pass

    def abort(self, prepared: object) -> None:
        pass

    def close(self) -> None:
        pass
