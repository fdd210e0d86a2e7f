"""A complete in-process RuntimePersistence for tests of the persistence seam.

It keeps everything the Runtime records, so a second ``Runtime.open`` on it restores the first
Runtime, and it can be told to fail or stall a given write: the seam's failure paths run for real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import attrs
from yoi_worker_runtime import (
    RestoredRuntime,
    RestoredWorker,
    RuntimeDiagnostic,
    RuntimeEvent,
    RuntimeState,
    StoreIo,
    StoreSchemes,
    TranscriptEntry,
    WorkerConflict,
    WorkerLocation,
    WorkerRecord,
    WorkerRef,
)
from yoi_worker_runtime.model import Backend
from yoi_worker_runtime.persistence import (
    Change,
    RuntimeStop,
    WorkerChange,
    WorkerCreated,
    WorkerRestored,
)


class RecordingPersistence:
    def __init__(self) -> None:
        self.runtime: RuntimeState | None = None
        self.workers: dict[str, WorkerRecord] = {}
        self.transcripts: dict[str, list[TranscriptEntry]] = {}
        self.events: list[RuntimeEvent] = []
        self.load_diagnostics: list[RuntimeDiagnostic] = []
        #: Worker names a previous Runtime left behind: restorable by ``claim_worker``.
        self.kept: dict[str, RestoredWorker] = {}
        #: Worker names another live Runtime hosts: ``claim_worker`` refuses them.
        self.hosted_elsewhere: dict[str, str] = {}
        #: Call name -> exception the next such call raises (then the entry is removed). Names:
        #: ``load``, ``claim_worker``, ``record_runtime_started``, ``prepare <Change class>``,
        #: ``commit``, ``abort``, ``close``.
        self.fail_next: dict[str, Exception] = {}
        #: When set, preparing a WorkerChange waits until ``release`` is set (a slow disk).
        self.stall_input = threading.Event()
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.calls: list[str] = []
        #: The size of every commit (changes that shared it).
        self.batches: list[int] = []
        self.closed = 0
        #: What ``locate_worker`` and ``orphans`` answer, and who wants to hear of a lost lease.
        self.locations: dict[str, WorkerLocation] = {}
        self.orphaned: list[str] = []
        self.lease_callbacks: list[Callable[[str], None]] = []

    def lose_lease(self, reason: str) -> None:
        """What a shared store's heartbeat does when it finds the lease lapsed."""
        callbacks, self.lease_callbacks = self.lease_callbacks, []
        for callback in callbacks:
            callback(reason)

    def durable_copy(self) -> RecordingPersistence:
        """A new persistence holding what this one holds now, as a crash would leave it."""
        copy = RecordingPersistence()
        copy.runtime = self.runtime
        copy.workers = dict(self.workers)
        copy.transcripts = {key: list(value) for key, value in self.transcripts.items()}
        copy.events = list(self.events)
        copy.kept = dict(self.kept)
        return copy

    @property
    def backend(self) -> Backend:
        return "store"

    @property
    def stores(self) -> StoreSchemes | None:
        return None

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        failure = self.fail_next.pop(method, None)
        if failure is not None:
            raise failure

    def load(self) -> RestoredRuntime | None:
        self._enter("load")
        if self.runtime is None:
            return None
        return RestoredRuntime(
            runtime=self.runtime,
            workers=tuple(
                RestoredWorker(worker=worker, transcript=tuple(self.transcripts[worker_id]))
                for worker_id, worker in self.workers.items()
            ),
            events=tuple(self.events),
            diagnostics=tuple(self.load_diagnostics),
        )

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        self._enter("claim_worker")
        if ref.worker_id in self.hosted_elsewhere:
            raise WorkerConflict(
                ref.worker_id, f"is hosted by live runtime {self.hosted_elsewhere[ref.worker_id]}"
            )
        kept = self.kept.get(ref.worker_id)
        if kept is None:
            return None
        return RestoredWorker(
            worker=attrs.evolve(kept.worker, ref=ref),
            transcript=tuple(attrs.evolve(entry, worker_ref=ref) for entry in kept.transcript),
            turns=kept.turns,
            former_host=kept.former_host,
        )

    def locate_worker(self, worker_id: str) -> WorkerLocation | None:
        return self.locations.get(worker_id)

    def orphans(self) -> list[str]:
        self._enter("orphans")
        return list(self.orphaned)

    def on_lease_lost(self, callback: Callable[[str], None]) -> None:
        self.lease_callbacks.append(callback)

    def record_runtime_started(self, runtime: RuntimeState, event: RuntimeEvent) -> None:
        self._enter("record_runtime_started")
        self.runtime = runtime
        self.events.append(event)

    def prepare(self, change: Change) -> object:
        """Writes nothing yet (a failure here is a failed prepare); ``stall_input`` stalls the
        prepare of a WorkerChange like a slow disk."""
        self._enter(f"prepare {type(change).__name__}")
        if isinstance(change, WorkerChange) and self.stall_input.is_set():
            self.stalled.set()
            if not self.release.wait(10):
                raise StoreIo("the test's stalled write was never released")
        return change

    def commit(self, prepared: Sequence[object]) -> None:
        self._enter("commit")
        self.batches.append(len(prepared))
        for change in prepared:
            self._keep(change)  # type: ignore[arg-type]

    def abort(self, prepared: object) -> None:
        self._enter("abort")

    def _keep(self, change: Change) -> None:
        self.events.extend(change.events)
        if isinstance(change, RuntimeStop):
            self.runtime = change.runtime
            for worker in change.workers:
                self.workers[worker.ref.worker_id] = worker
            return
        worker = change.worker
        worker_id = worker.ref.worker_id
        self.workers[worker_id] = worker
        if isinstance(change, WorkerCreated):
            self.transcripts[worker_id] = []
        elif isinstance(change, WorkerRestored):
            self.kept.pop(worker_id, None)
            self.transcripts[worker_id] = list(change.transcript)
        elif isinstance(change, WorkerChange):
            self.transcripts[worker_id] += [
                record for record in change.records if isinstance(record, TranscriptEntry)
            ]

    def close(self) -> None:
        self._enter("close")
        self.closed += 1
