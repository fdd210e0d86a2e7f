"""The write path of a store-backed Runtime: each change is committed by one append.

Commit rule. Every Runtime change is one entry appended to the Runtime's event log session (see
:mod:`.mapping`). That append is the commit point: a change is acknowledged exactly when its
commit entry is in the log. Everything else a change writes is written *before* the commit, by
:meth:`StoreWrites.prepare`, durably, and undone by :meth:`StoreWrites.abort` if the commit
does not come:

1. the Worker's transcript entries (``append_many_if_count``: one write and one sync for the
   whole change, and nobody else can slip in between),
2. the Pod record (a new Pod's claim; a status change),
3. the commit entry, by :meth:`StoreWrites.commit`, which appends the commit entries of many
   changes with one ``append_many_if_count``: one write and one sync of the event log for all of
   them (group commit; the Runtime hands over consecutive changes in event-id order).

Prepares of different Workers run at the same time (in their callers' threads), each syncing its
own transcript, so their syncs overlap; the event log's sync is shared. If a step fails, the
earlier ones are undone (the transcript is truncated back to its committed length, the Pod
record put back), and the Runtime, which changes memory only after the commit, stays as it was.
If an undo fails too (a full disk fails the rewrite a truncation needs), every further change
first retries the undo steps left, and is refused (StoreIo, InsufficientStorage when out of
space) until they succeed or a reopen (:mod:`.recovery`) repairs the store.

After the commit, only hints are written, best effort: the Pod's ``last_activity_at`` (at most
every :data:`ACTIVITY_INTERVAL` seconds per Worker while input flows, and on close).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from yoi_pod_store.contract import HostingLease, PodStore
from yoi_pod_store.model import ActivePointer, PodRecord, RuntimeRecord
from yoi_pod_store.model import WorkerStatus as PodWorkerStatus
from yoi_session_store.contract import SessionStore
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id
from yoi_session_store.model import Entry

from yoi_worker_runtime.errors import (
    InsufficientStorage,
    StoreCorrupt,
    StoreIo,
    StoreMissing,
    WorkerConflict,
    WorkerRuntimeError,
)
from yoi_worker_runtime.model import (
    RuntimeEvent,
    RuntimeState,
    WorkerRecord,
    WorkerStatus,
)
from yoi_worker_runtime.persistence import (
    Change,
    RuntimeStop,
    WorkerChange,
    WorkerCreated,
    WorkerRestored,
    WorkerStatusChanged,
)
from yoi_worker_runtime.store_backed import mapping, placement
from yoi_worker_runtime.store_backed.errors import store_errors, translate_error

#: Seconds between best-effort ``last_activity_at`` updates of a Pod while input flows.
ACTIVITY_INTERVAL = 10.0


@attrs.define
class WorkerFiles:
    """Where a hosted Worker's transcript lives and how many entries it holds."""

    session: SessionId
    segment: SegmentId
    count: int
    #: The newest activity not yet written to the Pod record, and when one was last written.
    pending_activity: str | None = None
    activity_written: float = 0.0


@attrs.frozen
class Claim:
    """What a restore by name found, checked again when the restore is recorded."""

    seen: PodRecord
    session: SessionId
    segment: SegmentId
    #: Entries to keep (an interrupted write of a former host is cut off), and all there were.
    keep: int
    count: int


@attrs.define(eq=False)
class Prepared:
    """A change written but for its commit: how to undo it (newest step last) if the commit
    does not come, and the best-effort hints to write once it has."""

    change: Change
    undo: list[Callable[[], None]] = attrs.field(factory=list)
    after: list[Callable[[], None]] = attrs.field(factory=list)


def _workers_json(change: Change) -> list[dict[str, Any]]:
    """The Workers a change's commit entry carries (with their definition when new)."""
    if isinstance(change, RuntimeStop):
        return [mapping.worker_json(worker, with_definition=False) for worker in change.workers]
    new = isinstance(change, WorkerCreated | WorkerRestored)
    return [mapping.worker_json(change.worker, with_definition=new)]


def with_status(record: PodRecord, status: WorkerStatus, at: str | None) -> PodRecord:
    """``record`` with the Runtime's Worker status (and, when ``at`` is given, activity time)."""
    return attrs.evolve(
        record,
        worker_status=PodWorkerStatus(status),
        last_activity_at=mapping.parse_time(at) if at else record.last_activity_at,
    )


class StoreWrites:
    """The changes of one Runtime (the ``record_*`` calls of the persistence seam), written
    through its hosting lease, and the bookkeeping of where they go, which recovery fills in
    when a stored Runtime is loaded."""

    def __init__(self, pods: PodStore, sessions: SessionStore, lease: HostingLease) -> None:
        self.pods = pods
        self.sessions = sessions
        self.lease = lease
        self.runtime_id = lease.runtime_id
        #: Why changes are refused (an undo failed), or None, and the undo steps left to retry.
        self.broken: WorkerRuntimeError | None = None
        self.unfinished_undo: list[Callable[[], None]] = []
        self._undo_lock = threading.Lock()
        self.events_session: SessionId | None = None
        self.events_segment: SegmentId | None = None
        self.events_count = 0
        self.last_event_id = 0
        self.workers: dict[str, WorkerFiles] = {}
        #: Restores by name in progress: what recovery found, by worker id.
        self.claims: dict[str, Claim] = {}
        self.record: RuntimeRecord | None = None
        #: The REST URL recorded for other Runtimes to send clients to (None: none).
        self.advertise_url: str | None = None

    # --- the changes --------------------------------------------------------------------------

    # --- prepare, commit, abort ------------------------------------------------------------

    def prepare(self, change: Change) -> Prepared:
        """Everything of ``change`` but its commit, durably (undone at once if a step fails)."""
        self.check_usable()
        prepared = Prepared(change=change)
        try:
            if isinstance(change, WorkerCreated):
                self._prepare_created(change, prepared)
            elif isinstance(change, WorkerRestored):
                self._prepare_restored(change, prepared)
            elif isinstance(change, WorkerChange):
                self._prepare_worker_change(change, prepared)
            elif isinstance(change, WorkerStatusChanged):
                self._write_status(change.worker, change.events[0], prepared)
            else:
                by_worker = {
                    event.worker_ref.worker_id: event for event in change.events if event.worker_ref
                }
                for worker in change.workers:
                    self._write_status(worker, by_worker[worker.ref.worker_id], prepared)
                stopped_at = change.runtime.stopped_at or change.events[-1].at
                # a hint for picking a default runtime
                prepared.after.append(lambda: self.write_runtime_record(stopped_at=stopped_at))
        except BaseException:
            self._undo(prepared)  # the original error is the one to report
            raise
        return prepared

    def commit(self, prepared: Sequence[object]) -> None:
        """Append the commit entries of ``prepared`` (consecutive changes) with one write and
        one sync: from here on they are acknowledged."""
        self.check_usable()
        batch = [item for item in prepared if isinstance(item, Prepared)]
        assert len(batch) == len(prepared), "commit takes what prepare returned"
        assert self.events_session is not None and self.events_segment is not None
        entries = [
            mapping.commit_entry(item.change.events, _workers_json(item.change)) for item in batch
        ]
        with store_errors(f"event log of runtime {self.runtime_id}"):
            ok = self.sessions.append_many_if_count(
                self.events_session, self.events_segment, entries, self.events_count
            )
        if not ok:
            raise StoreCorrupt(
                f"the event log of runtime {self.runtime_id} was changed by another writer"
            )
        self.events_count += len(entries)
        self.last_event_id = batch[-1].change.events[-1].id
        # Acknowledge only if the lease held throughout: had it lapsed while this change was
        # under way (the process stopped), another Runtime may have restored these Workers
        # without it. LeaseLost then, and the caller must take the outcome as unknown.
        with store_errors(f"hosting lease of runtime {self.runtime_id}"):
            self.lease.ensure_held()
        for item in batch:
            for step in item.after:
                with contextlib.suppress(WorkerRuntimeError):  # hints, best effort
                    step()

    def abort(self, prepared: object) -> None:
        """Undo a prepared change, newest step first; if that fails, refuse every later change
        until the steps left succeed on a retry or a reopen repairs the store."""
        assert isinstance(prepared, Prepared)
        if self.lease.lost:
            # Another Runtime may own these Workers now: write nothing, not even an undo (a
            # reopen judges what was committed by the event log).
            return
        self._undo(prepared)
        if self.broken is not None:
            raise self.broken

    def _undo(self, prepared: Prepared) -> None:
        steps, prepared.undo = prepared.undo, []
        self._run_undo(list(reversed(steps)))

    def _run_undo(self, steps: list[Callable[[], None]]) -> None:
        """Run undo steps in order; the failed ones are kept for :meth:`_retry_undo`.
        (Changes of other Workers may prepare meanwhile: the steps touch only their own.)"""
        left: list[Callable[[], None]] = []
        failure: BaseException | None = None
        for step in steps:
            try:
                step()
            except Exception as exc:
                left.append(step)
                failure = translate_error(exc, "undo") or exc
        with self._undo_lock:
            self.unfinished_undo += left
            if failure is not None:
                self.broken = self._broken_error(failure)
            elif not self.unfinished_undo:
                self.broken = None

    @staticmethod
    def _broken_error(cause: BaseException) -> WorkerRuntimeError:
        reason = cause.detail if isinstance(cause, StoreIo) else str(cause)
        detail = (
            f"a failed change could not be undone ({reason}); the undo is retried with the "
            "next change, and a reopen of the runtime repairs the store"
        )
        if isinstance(cause, InsufficientStorage):
            return InsufficientStorage(detail)
        return StoreIo(detail)

    def _retry_undo(self) -> None:
        """Retry the undo steps a failed change left (space may have been freed since); raise
        while any still fails. Nothing was written since by the Workers they concern, since
        their changes are refused meanwhile, so each step still applies."""
        with self._undo_lock:
            steps, self.unfinished_undo = self.unfinished_undo, []
            self.broken = None if not steps else self.broken
        self._run_undo(steps)
        if self.broken is not None:
            raise self.broken

    def _prepare_created(self, change: WorkerCreated, prepared: Prepared) -> None:
        worker, event = change.worker, change.events[0]
        worker_id = worker.ref.worker_id
        session, segment = new_session_id(), new_segment_id()
        start = mapping.segment_start(
            session,
            event.at,
            runtime_id=self.runtime_id,
            worker_id=worker_id,
            event_id=event.id,
        )
        # Undone also when the creation fails halfway (a full disk) and leaves its directory.
        prepared.undo.append(lambda: self._forget_session(session))
        with store_errors(f"transcript of worker {worker_id}"):
            self.sessions.create_segment(session, segment, [start])

        def claim(current: PodRecord | None) -> PodRecord:
            if current is not None:
                raise WorkerConflict(worker_id, "appeared in the store meanwhile; try again")
            return PodRecord(
                worker_id,
                active=ActivePointer(session, segment),
                resolved_manifest_snapshot=mapping.snapshot(worker),
                worker_status=PodWorkerStatus.RUNNING,
                created_at=mapping.parse_time(worker.created_at),
                last_activity_at=mapping.parse_time(event.at),
            )

        self.claim_pod(worker_id, claim, allow_missing=True)
        prepared.undo.append(lambda: self._delete_pod(worker_id, session))
        files = WorkerFiles(session, segment, 1, activity_written=time.monotonic())
        prepared.after.append(lambda: self.workers.__setitem__(worker_id, files))

    def _prepare_restored(self, change: WorkerRestored, prepared: Prepared) -> None:
        worker, event = change.worker, change.events[0]
        worker_id = worker.ref.worker_id
        claim = self.claims.pop(worker_id, None)
        if claim is None:
            raise StoreCorrupt(f"worker {worker_id} was restored without being claimed")
        label = f"transcript of worker {worker_id} (session {claim.session})"

        def take(current: PodRecord | None) -> PodRecord:
            if current is None or (current.active, current.hosting_runtime_id) != (
                claim.seen.active,
                claim.seen.hosting_runtime_id,
            ):
                raise WorkerConflict(worker_id, "changed in the store meanwhile; try again")
            if claim.keep < claim.count:  # a former host's interrupted change
                with store_errors(label):
                    self.sessions.truncate(claim.session, claim.segment, claim.keep)
            return attrs.evolve(
                current,
                resolved_manifest_snapshot=mapping.snapshot(worker),
                worker_status=PodWorkerStatus.RUNNING,
                last_activity_at=mapping.parse_time(event.at),
            )

        self.claim_pod(worker_id, take)
        prepared.undo.append(lambda: self._put_pod_back(worker_id, claim.seen))
        files = WorkerFiles(
            claim.session, claim.segment, claim.keep, activity_written=time.monotonic()
        )
        self._append(worker_id, files, [mapping.restored_entry(self.runtime_id, event)])
        prepared.undo.append(lambda: self._truncate(worker_id, files, claim.keep))
        prepared.after.append(lambda: self.workers.__setitem__(worker_id, files))

    def _prepare_worker_change(self, change: WorkerChange, prepared: Prepared) -> None:
        worker_id = change.worker.ref.worker_id
        files = self._files(worker_id)
        count = files.count
        entries = mapping.change_entries(self.runtime_id, change)
        if entries:
            self._append(worker_id, files, entries)
            prepared.undo.append(lambda: self._truncate(worker_id, files, count))
        at = change.events[-1].at
        prepared.after.append(lambda: self._touch(worker_id, files, at))

    def record_runtime_started(self, runtime: RuntimeState, event: RuntimeEvent) -> None:
        """A fresh Runtime: the event log (with its first commit) and the runtime record."""
        self.check_usable()
        session, segment = new_session_id(), new_segment_id()
        start = mapping.segment_start(
            session, event.at, runtime_id=runtime.runtime_id, log="events"
        )
        try:
            with store_errors(f"event log of runtime {runtime.runtime_id}"):
                self.sessions.create_segment(
                    session, segment, [start, mapping.commit_entry([event], ())]
                )
        except BaseException:
            self._forget_session(session)  # a creation that failed halfway left its directory
            raise
        record = RuntimeRecord(
            runtime_id=runtime.runtime_id,
            display_name=runtime.display_name,
            events_session_id=session,
            created_at=mapping.parse_time(runtime.started_at),
            extra={
                mapping.RUNTIME_RECORD_KEY: {
                    "schema_version": 1,
                    "events_segment_id": segment,
                    "last_opened_at": event.at,
                    placement.ADVERTISE_URL_KEY: self.advertise_url,
                }
            },
        )
        try:
            with store_errors(f"runtime record {runtime.runtime_id}"):
                self.record = self.pods.write_runtime(record)
        except BaseException:
            self._forget_session(session)
            raise
        self.events_session, self.events_segment = session, segment
        self.events_count = 2
        self.last_event_id = event.id

    def write_pending_activity(self) -> None:
        """Write the activity hints not written yet (when the Runtime closes)."""
        if self.lease.lost:
            return  # no longer the host: the hints are not ours to write
        for worker_id, files in self.workers.items():
            if files.pending_activity is not None:
                self._write_activity(worker_id, files)

    # --- steps --------------------------------------------------------------------------------

    def check_usable(self) -> None:
        # A Runtime whose hosting lease lapsed (a TTL lease on a shared store) must not write as
        # the host of Pods another host may already be cleaning up.
        with store_errors(f"hosting lease of runtime {self.runtime_id}"):
            self.lease.ensure_held()
        if self.broken is not None:
            self._retry_undo()

    def claim_pod(
        self,
        worker_id: str,
        prepare: Callable[[Any], PodRecord],
        *,
        allow_missing: bool = False,
    ) -> None:
        """Write the Pod under its lock as this Runtime's (``prepare`` may refuse by raising).
        ``prepare`` gets the current record; ``None`` only with ``allow_missing``."""

        def checked(current: PodRecord | None) -> PodRecord:
            if current is None and not allow_missing:
                raise StoreMissing(
                    f"the Pod metadata of worker {worker_id} was deleted while it was hosted"
                )
            return prepare(current)

        with store_errors(f"pod {worker_id}"):
            self.lease.claim(worker_id, checked)

    def write_runtime_record(self, **state: str | None) -> None:
        """Update this Runtime's own keys in the extra fields of its runtime record."""
        assert self.record is not None
        extra = dict(self.record.extra)
        own = dict(extra.get(mapping.RUNTIME_RECORD_KEY) or {})
        own.update(state)
        extra[mapping.RUNTIME_RECORD_KEY] = own
        with store_errors(f"runtime record {self.runtime_id}"):
            self.record = self.pods.write_runtime(attrs.evolve(self.record, extra=extra))

    def _files(self, worker_id: str) -> WorkerFiles:
        files = self.workers.get(worker_id)
        if files is None:
            raise StoreMissing(f"worker {worker_id} has no transcript in this store")
        return files

    def _append(self, worker_id: str, files: WorkerFiles, entries: list[Entry]) -> None:
        """Append a change's transcript entries with one write and one sync."""
        with store_errors(f"transcript of worker {worker_id}"):
            ok = self.sessions.append_many_if_count(
                files.session, files.segment, entries, files.count
            )
        if not ok:
            raise StoreCorrupt(
                f"the transcript of worker {worker_id} was changed by another writer"
            )
        files.count += len(entries)

    def _truncate(self, worker_id: str, files: WorkerFiles, keep: int) -> None:
        with store_errors(f"transcript of worker {worker_id}"):
            self.sessions.truncate(files.session, files.segment, keep)
        files.count = keep

    def _write_status(self, worker: WorkerRecord, event: RuntimeEvent, prepared: Prepared) -> None:
        worker_id = worker.ref.worker_id
        files = self._files(worker_id)
        count = files.count
        self._append(worker_id, files, [mapping.status_entry(self.runtime_id, worker, event)])
        prepared.undo.append(lambda: self._truncate(worker_id, files, count))
        before: list[PodRecord] = []

        def apply(record: PodRecord) -> PodRecord:
            before.append(record)
            return with_status(record, worker.status, event.at)

        self.claim_pod(worker_id, apply)
        prepared.undo.append(lambda: self._put_pod_back(worker_id, before[0]))

    def _put_pod_back(self, worker_id: str, previous: PodRecord) -> None:
        with store_errors(f"pod {worker_id}"):
            self.pods.update(
                worker_id,
                lambda current: (
                    previous
                    if current is not None and current.hosting_runtime_id == self.runtime_id
                    else None
                ),
            )

    def _delete_pod(self, worker_id: str, session: SessionId) -> None:
        with store_errors(f"pod {worker_id}"), self.pods.locked(worker_id) as pod:
            current = pod.read()
            if current is not None and current.active and current.active.session_id == session:
                pod.delete()

    def _forget_session(self, session: SessionId) -> None:
        """Best effort: remove a session nothing refers to (a change that did not happen).
        Left behind, it is only an unreferenced session that ``session prune`` removes."""
        with contextlib.suppress(Exception):
            self.sessions.delete_session(session)

    def _touch(self, worker_id: str, files: WorkerFiles, at: str) -> None:
        files.pending_activity = at
        if time.monotonic() - files.activity_written >= ACTIVITY_INTERVAL:
            self._write_activity(worker_id, files)

    def _write_activity(self, worker_id: str, files: WorkerFiles) -> None:
        """Best effort: the activity time is a hint (the session's own times say it too)."""
        at = files.pending_activity
        if at is None:
            return
        moment = mapping.parse_time(at)
        try:
            with store_errors(f"pod {worker_id}"):
                self.pods.update(
                    worker_id,
                    lambda current: (
                        attrs.evolve(current, last_activity_at=moment)
                        if current is not None and current.hosting_runtime_id == self.runtime_id
                        else None
                    ),
                )
        except WorkerRuntimeError:
            return
        files.pending_activity = None
        files.activity_written = time.monotonic()
