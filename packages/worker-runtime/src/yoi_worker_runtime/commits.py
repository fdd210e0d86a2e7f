"""How changes reach the store: per-Worker order, dense event ids, and group commit.

Every change of a Runtime goes through :meth:`CommitPipeline.run`:

1. **Reserve** its event ids (they are dense and given out in order) and build the change
   with them, from memory as it is.
2. **Prepare** it in the calling thread (``persistence.prepare``: the transcript entries, the
   Pod record, durably). Changes of different Workers prepare at the same time; one Worker's
   changes come one at a time, because its callers hold the Worker's lock throughout.
3. **Commit** in event-id order. Whoever finds the next change to commit prepared, and no
   commit under way, becomes the *leader*: it commits every change that is prepared and
   consecutive from there in one ``persistence.commit`` (one sync for all: group commit), then
   applies them to memory, in order, and wakes their callers. Meanwhile more changes prepare and
   wait, so under load every sync serves many changes.
4. **Apply** to memory only after the commit: a reader never sees an event whose data is not
   yet durable, and event ids in memory stay dense.

Failure: if a prepare or a commit fails, that change and every change after it fail (their ids
are reserved but can no longer be committed in order), each caller undoes its prepare
(``persistence.abort``), and once they have all finished the ids are given out again. Memory
and disk stay as they were before the first failed change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, Protocol, TypeVar

import attrs

from yoi_worker_runtime.errors import StoreIo, WorkerRuntimeError, store_io_error

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound="HasEvents")


class HasEvents(Protocol):
    @property
    def events(self) -> tuple[object, ...]: ...


class Committing(Protocol):
    """The part of a persistence the pipeline drives."""

    def prepare(self, change: object) -> object: ...

    def commit(self, prepared: list[object]) -> None: ...

    def abort(self, prepared: object) -> None: ...


def store_call(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call persistence; typed errors pass through, OSError becomes StoreIo (no paths), or
    InsufficientStorage when the store is out of space."""
    try:
        return function(*args, **kwargs)
    except WorkerRuntimeError:
        raise
    except OSError as exc:
        raise store_io_error(exc) from exc


class SharedExclusive:
    """A lock many may hold shared (changes of single Workers) or one exclusively (changes of
    the whole Runtime). A waiting exclusive holder goes first, so it is never starved."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive and not self._waiting)
            self._shared += 1
        try:
            yield
        finally:
            with self._condition:
                self._shared -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._waiting += 1
            self._condition.wait_for(lambda: not self._exclusive and not self._shared)
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


@attrs.define(eq=False)
class _Pending:
    """A prepared change waiting for its commit."""

    first: int
    count: int
    token: object
    apply: Callable[[], None]
    done: bool = False
    error: WorkerRuntimeError | None = None


#: Called after each commit with the number of changes it committed and the seconds it took.
CommitObserver = Callable[[int, float], None]


class CommitPipeline:
    """See the module docstring. ``state`` is the Runtime's memory lock: ``apply`` functions
    run under it, in commit order. ``next_id`` is the first event id still free."""

    def __init__(self, persistence: Committing, state: threading.Condition, next_id: int) -> None:
        self._persistence = persistence
        self._state = state
        self._lock = threading.Condition()
        self._next_id = next_id
        self._next_commit = next_id
        self._pending: dict[int, _Pending] = {}
        self._in_flight: set[int] = set()
        self._failed_from: int | None = None
        self._leader = False
        self.observers: list[CommitObserver] = []

    def run(self, build: Callable[[int], tuple[C, Callable[[], None]]]) -> C:
        """Reserve ids, ``build(first_id)`` the change and its memory update, then prepare,
        commit and apply it. Raises the store's error with memory as it was."""
        with self._lock:
            self._lock.wait_for(lambda: self._failed_from is None)
            first = self._next_id
            change, apply = build(first)
            self._next_id += len(change.events)
            self._in_flight.add(first)
        try:
            token = store_call(self._persistence.prepare, change)
        except BaseException:
            self._resolve(first, failed=True)
            raise
        pending = _Pending(first, len(change.events), token, apply)
        error = self._commit_in_order(pending)
        if error is not None:
            try:
                store_call(self._persistence.abort, token)
            finally:
                self._resolve(first, failed=True)
            raise error
        self._resolve(first, failed=False)
        return change

    def _resolve(self, first: int, *, failed: bool) -> None:
        """A change is done; after a failure, ids are given out again once every change from
        the failed one on is done."""
        with self._lock:
            self._in_flight.discard(first)
            if failed and (self._failed_from is None or first < self._failed_from):
                self._failed_from = first
            failed_from = self._failed_from
            if failed_from is not None and all(item < failed_from for item in self._in_flight):
                self._next_id = failed_from
                self._failed_from = None
            self._lock.notify_all()

    def _commit_in_order(self, pending: _Pending) -> WorkerRuntimeError | None:
        """Wait for ``pending``'s turn, leading commits of whatever is ready meanwhile."""
        with self._lock:
            self._pending[pending.first] = pending
            self._lock.notify_all()
        while True:
            with self._lock:
                while True:
                    if pending.done:
                        return pending.error
                    failed_from = self._failed_from
                    if failed_from is not None and pending.first >= failed_from:
                        self._pending.pop(pending.first, None)
                        return StoreIo("an earlier change failed, so this one was not committed")
                    if not self._leader and self._next_commit in self._pending:
                        break
                    self._lock.wait()
                self._leader = True
                batch: list[_Pending] = []
                position = self._next_commit
                while position in self._pending and (failed_from is None or position < failed_from):
                    item = self._pending.pop(position)
                    batch.append(item)
                    position += item.count
            self._lead(batch, position)

    def _lead(self, batch: list[_Pending], after: int) -> None:
        """Commit ``batch`` with one call, apply it, and hand the lead on (caller is leader)."""
        error: WorkerRuntimeError | None = None
        started = time.monotonic()
        try:
            store_call(self._persistence.commit, [item.token for item in batch])
        except WorkerRuntimeError as exc:
            error = exc
        except BaseException:
            error = StoreIo("the commit was interrupted")
        took = time.monotonic() - started
        with self._lock:
            if error is None:
                with self._state:
                    for item in batch:
                        item.apply()
                self._next_commit = after
            else:
                first = batch[0].first
                if self._failed_from is None or first < self._failed_from:
                    self._failed_from = first
            for item in batch:
                item.done, item.error = True, error
            self._leader = False
            self._lock.notify_all()
        if error is None:
            for observer in self.observers:
                observer(len(batch), took)
