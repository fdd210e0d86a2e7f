"""The Runtime's persistence, watched: how long each write takes and whether the last one failed.

A server opens its Runtime with ``wrap_persistence=WatchedPersistence``, so every call the
Runtime makes to its store passes through here unchanged. The write (``record_*``) calls are
timed and reported to listeners (the ``/v1/metrics`` histograms), and the outcome of the last
one is kept: readiness answers 503 while the last write failed, until one succeeds again.

Two optional parts of a persistence are read when it has them:

- ``hosting_lost`` (a property): True once the store's hosting lease lapsed, so every further
  write would be refused (readiness answers 503 at once, before a write finds out);
- ``report_commit_batches(listener)`` (a method): a persistence that commits several writes
  with one fsync calls ``listener(size)`` once per commit with the number of writes it
  covered; the sizes feed the ``yoi_store_commit_batch_size`` histogram.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from yoi_worker_runtime.errors import (
    StoreCorrupt,
    StoreIo,
    StoreMissing,
    WorkerRuntimeError,
    hide_absolute_paths,
)
from yoi_worker_runtime.model import (
    Backend,
    RuntimeEvent,
    RuntimeState,
    StoreSchemes,
    TranscriptEntry,
    WorkerRecord,
    WorkerRef,
)
from yoi_worker_runtime.persistence import (
    RestoredRuntime,
    RestoredWorker,
    RuntimePersistence,
    WorkerChange,
)

#: ``(operation, seconds, ok)`` after every write; ``operation`` is the ``record_*`` name.
WriteListener = Callable[[str, float, bool], None]
#: The number of writes one commit (one fsync) covered.
BatchListener = Callable[[int], None]

_STORE_FAILURES = (StoreIo, StoreMissing, StoreCorrupt, OSError)


def _describe(error: BaseException) -> str:
    if isinstance(error, WorkerRuntimeError):
        return hide_absolute_paths(error.message)
    if isinstance(error, OSError):
        return f"store I/O failed: {error.strerror or type(error).__name__}"
    return type(error).__name__


class WatchedPersistence:
    """A :class:`~yoi_worker_runtime.persistence.RuntimePersistence` around ``inner`` that
    times its writes and remembers whether the last one failed."""

    def __init__(self, inner: RuntimePersistence) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._last_failure: str | None = None
        self._write_listeners: list[WriteListener] = []
        self._batch_listeners: list[BatchListener] = []
        report = getattr(inner, "report_commit_batches", None)
        if callable(report):
            report(self._commit_batch)

    def on_write(self, listener: WriteListener) -> None:
        self._write_listeners.append(listener)

    def on_commit_batch(self, listener: BatchListener) -> None:
        self._batch_listeners.append(listener)

    def problem(self) -> str | None:
        """Why the store is failing now (None: it is not, as far as is known)."""
        if getattr(self.inner, "hosting_lost", False):
            return "the store's hosting lease of this Runtime is lost"
        with self._lock:
            return self._last_failure

    def _commit_batch(self, size: int) -> None:
        for listener in self._batch_listeners:
            listener(size)

    def _write(self, operation: str, write: Callable[..., None], *args: Any) -> None:
        started = time.perf_counter()
        try:
            write(*args)
        except _STORE_FAILURES as error:
            self._finished(operation, started, f"the last store write failed: {_describe(error)}")
            raise
        except Exception:
            # Not the store's failure (a name conflict, say): the store answered.
            self._finished(operation, started, None)
            raise
        self._finished(operation, started, None)

    def _finished(self, operation: str, started: float, failure: str | None) -> None:
        seconds = time.perf_counter() - started
        with self._lock:
            self._last_failure = failure
        for listener in self._write_listeners:
            listener(operation, seconds, failure is None)

    # --- RuntimePersistence -------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        return self.inner.backend

    @property
    def stores(self) -> StoreSchemes | None:
        return self.inner.stores

    def load(self) -> RestoredRuntime | None:
        return self.inner.load()

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        return self.inner.claim_worker(ref)

    def record_runtime_started(self, runtime: RuntimeState, event: RuntimeEvent) -> None:
        self._write("record_runtime_started", self.inner.record_runtime_started, runtime, event)

    def record_worker_created(self, worker: WorkerRecord, event: RuntimeEvent) -> None:
        self._write("record_worker_created", self.inner.record_worker_created, worker, event)

    def record_worker_restored(
        self, worker: WorkerRecord, transcript: Sequence[TranscriptEntry], event: RuntimeEvent
    ) -> None:
        record = self.inner.record_worker_restored
        self._write("record_worker_restored", record, worker, transcript, event)

    def record_worker_change(self, change: WorkerChange) -> None:
        self._write("record_worker_change", self.inner.record_worker_change, change)

    def record_worker_status(self, worker: WorkerRecord, event: RuntimeEvent) -> None:
        self._write("record_worker_status", self.inner.record_worker_status, worker, event)

    def record_runtime_stopped(
        self,
        runtime: RuntimeState,
        workers: Sequence[WorkerRecord],
        events: Sequence[RuntimeEvent],
    ) -> None:
        record = self.inner.record_runtime_stopped
        self._write("record_runtime_stopped", record, runtime, workers, events)

    def close(self) -> None:
        self.inner.close()
