"""The Runtime's persistence, watched: how long each write takes and whether the last one failed.

A server opens its Runtime with ``wrap_persistence=WatchedPersistence``, so every call the
Runtime makes to its store passes through here unchanged. The writes (``prepare``, ``commit``,
``abort``, ``record_runtime_started``) are timed and reported to listeners (the
``/v1/metrics`` histograms), each commit's size too (how many changes shared its one sync), and
the outcome of the last write is kept: readiness answers 503 while the last write failed, until
one succeeds again, and at once and for good when the store finds the hosting lease lost.
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
from yoi_worker_runtime.model import Backend, RuntimeEvent, RuntimeState, StoreSchemes, WorkerRef
from yoi_worker_runtime.persistence import (
    Change,
    RestoredRuntime,
    RestoredWorker,
    RuntimePersistence,
    WorkerLocation,
)

#: ``(operation, seconds, ok)`` after every write; ``operation`` is the persistence call's name.
WriteListener = Callable[[str, float, bool], None]
#: The number of changes one commit (one sync) covered.
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
        self._lease_lost: str | None = None
        self._write_listeners: list[WriteListener] = []
        self._batch_listeners: list[BatchListener] = []
        inner.on_lease_lost(self._lose_lease)

    def on_write(self, listener: WriteListener) -> None:
        self._write_listeners.append(listener)

    def on_commit_batch(self, listener: BatchListener) -> None:
        self._batch_listeners.append(listener)

    def problem(self) -> str | None:
        """Why the store is failing now (None: it is not, as far as is known)."""
        with self._lock:
            if self._lease_lost is not None:
                return f"the hosting lease of this Runtime is lost ({self._lease_lost})"
            return self._last_failure

    def _lose_lease(self, reason: str) -> None:
        with self._lock:
            self._lease_lost = reason

    def _write(self, operation: str, write: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            result = write(*args)
        except _STORE_FAILURES as error:
            self._finished(operation, started, f"the last store write failed: {_describe(error)}")
            raise
        except Exception:
            # Not the store's failure (a name conflict, say): the store answered.
            self._finished(operation, started, None)
            raise
        self._finished(operation, started, None)
        return result

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

    def locate_worker(self, worker_id: str) -> WorkerLocation | None:
        return self.inner.locate_worker(worker_id)

    def orphans(self) -> list[str]:
        return self.inner.orphans()

    def on_lease_lost(self, callback: Callable[[str], None]) -> None:
        self.inner.on_lease_lost(callback)

    def prepare(self, change: Change) -> object:
        return self._write("prepare", self.inner.prepare, change)

    def commit(self, prepared: Sequence[object]) -> None:
        self._write("commit", self.inner.commit, prepared)
        for listener in self._batch_listeners:
            listener(len(prepared))

    def abort(self, prepared: object) -> None:
        self._write("abort", self.inner.abort, prepared)

    def close(self) -> None:
        self.inner.close()
