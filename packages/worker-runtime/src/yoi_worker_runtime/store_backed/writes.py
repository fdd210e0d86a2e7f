"""The write path of a store-backed Runtime: each change is committed by one append.

Commit rule. Every Runtime change is one entry appended to the Runtime's event log session (see
:mod:`.mapping`). That append is the commit point: a change is acknowledged exactly when its
commit entry is in the log. Everything else a change writes is written *before* the commit and
undone if the commit fails:

1. the Worker's transcript entry (``append_if_count``, so nobody else can slip in between),
2. the Pod record (a new Pod's claim; a status change),
3. the commit entry.

If a step fails, what it and the earlier ones wrote is undone (the transcript is truncated back
to its committed length, the Pod record put back, a new session deleted, also when its creation
failed halfway), and the Runtime, which changes memory only after the call returns, stays as it
was. If an undo fails too (a full disk fails the rewrite a truncation needs), every further
change first retries the undo steps left, and is refused (StoreIo, InsufficientStorage when out
of space) until they succeed or a reopen (:mod:`.recovery`) repairs the store.

After the commit, only hints are written, best effort: the Pod's ``last_activity_at`` (at most
every :data:`ACTIVITY_INTERVAL` seconds per Worker while input flows, and on close).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
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
    TranscriptEntry,
    WorkerRecord,
    WorkerStatus,
)
from yoi_worker_runtime.persistence import WorkerChange
from yoi_worker_runtime.store_backed import mapping
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


class _Undo:
    """Undo steps of a change in progress, run newest first if the change fails."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], None]] = []


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
        self.events_session: SessionId | None = None
        self.events_segment: SegmentId | None = None
        self.events_count = 0
        self.last_event_id = 0
        self.workers: dict[str, WorkerFiles] = {}
        #: Restores by name in progress: what recovery found, by worker id.
        self.claims: dict[str, Claim] = {}
        self.record: RuntimeRecord | None = None

    # --- the changes --------------------------------------------------------------------------

    def record_runtime_started(self, runtime: RuntimeState, event: RuntimeEvent) -> None:
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

    def record_worker_created(self, worker: WorkerRecord, event: RuntimeEvent) -> None:
        self.check_usable()
        worker_id = worker.ref.worker_id
        session, segment = new_session_id(), new_segment_id()
        start = mapping.segment_start(
            session,
            event.at,
            runtime_id=self.runtime_id,
            worker_id=worker_id,
            event_id=event.id,
        )
        with self._change() as undo:
            # Undone also when the creation fails halfway (a full disk) and leaves its directory.
            undo.steps.append(lambda: self._forget_session(session))
            with store_errors(f"transcript of worker {worker_id}"):
                self.sessions.create_segment(session, segment, [start])

            def prepare(current: PodRecord | None) -> PodRecord:
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

            self.claim_pod(worker_id, prepare, allow_missing=True)
            undo.steps.append(lambda: self._delete_pod(worker_id, session))
            self._commit([event], [mapping.worker_json(worker, with_definition=True)])
        self.workers[worker_id] = WorkerFiles(
            session, segment, 1, activity_written=time.monotonic()
        )

    def record_worker_restored(
        self, worker: WorkerRecord, transcript: Sequence[TranscriptEntry], event: RuntimeEvent
    ) -> None:
        """``transcript`` is in the Worker's session already (the claim found it there)."""
        self.check_usable()
        worker_id = worker.ref.worker_id
        claim = self.claims.pop(worker_id, None)
        if claim is None:
            raise StoreCorrupt(f"worker {worker_id} was restored without being claimed")
        label = f"transcript of worker {worker_id} (session {claim.session})"
        with self._change() as undo:

            def prepare(current: PodRecord | None) -> PodRecord:
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

            self.claim_pod(worker_id, prepare)
            undo.steps.append(lambda: self._put_pod_back(worker_id, claim.seen))
            files = WorkerFiles(
                claim.session, claim.segment, claim.keep, activity_written=time.monotonic()
            )
            self._append(worker_id, files, mapping.restored_entry(self.runtime_id, event))
            undo.steps.append(lambda: self._truncate(worker_id, files, claim.keep))
            self._commit([event], [mapping.worker_json(worker, with_definition=True)])
        self.workers[worker_id] = files

    def record_worker_change(self, change: WorkerChange) -> None:
        self.check_usable()
        worker = change.worker
        worker_id = worker.ref.worker_id
        files = self._files(worker_id)
        count = files.count
        with self._change() as undo:
            undo.steps.append(lambda: self._truncate(worker_id, files, count))
            for entry in mapping.change_entries(self.runtime_id, change):
                self._append(worker_id, files, entry)
            self._commit(change.events, [mapping.worker_json(worker, with_definition=False)])
        self._touch(worker_id, files, change.events[-1].at)

    def record_worker_status(self, worker: WorkerRecord, event: RuntimeEvent) -> None:
        self.check_usable()
        with self._change() as undo:
            self._write_status(worker, event, undo)
            self._commit([event], [mapping.worker_json(worker, with_definition=False)])

    def record_runtime_stopped(
        self,
        runtime: RuntimeState,
        workers: Sequence[WorkerRecord],
        events: Sequence[RuntimeEvent],
    ) -> None:
        self.check_usable()
        by_worker = {event.worker_ref.worker_id: event for event in events if event.worker_ref}
        with self._change() as undo:
            for worker in workers:
                self._write_status(worker, by_worker[worker.ref.worker_id], undo)
            self._commit(
                events, [mapping.worker_json(worker, with_definition=False) for worker in workers]
            )
        with contextlib.suppress(WorkerRuntimeError):  # a hint for picking a default runtime
            self.write_runtime_record(stopped_at=runtime.stopped_at or events[-1].at)

    def write_pending_activity(self) -> None:
        """Write the activity hints not written yet (when the Runtime closes)."""
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

    @contextlib.contextmanager
    def _change(self) -> Iterator[_Undo]:
        """Run a change's steps; when one fails, undo the earlier ones (newest first)."""
        undo = _Undo()
        try:
            yield undo
        except BaseException:
            self._undo(list(reversed(undo.steps)))
            raise

    def _undo(self, steps: list[Callable[[], None]]) -> None:
        """Run undo steps in order; the failed ones are kept for :meth:`_retry_undo`."""
        left: list[Callable[[], None]] = []
        for step in steps:
            try:
                step()
            except Exception as exc:
                left.append(step)
                self.broken = self._broken_error(translate_error(exc, "undo") or exc)
        self.unfinished_undo = left
        if not left:
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
        while any still fails. Nothing was written since, so each step still applies."""
        self._undo(self.unfinished_undo)
        if self.broken is not None:
            raise self.broken

    def _commit(self, events: Sequence[RuntimeEvent], workers: Sequence[dict[str, Any]]) -> None:
        """Append the change's commit entry: from here on the change is acknowledged."""
        assert self.events_session is not None and self.events_segment is not None
        with store_errors(f"event log of runtime {self.runtime_id}"):
            ok = self.sessions.append_if_count(
                self.events_session,
                self.events_segment,
                mapping.commit_entry(events, workers),
                self.events_count,
            )
        if not ok:
            raise StoreCorrupt(
                f"the event log of runtime {self.runtime_id} was changed by another writer"
            )
        self.events_count += 1
        self.last_event_id = events[-1].id

    def _files(self, worker_id: str) -> WorkerFiles:
        files = self.workers.get(worker_id)
        if files is None:
            raise StoreMissing(f"worker {worker_id} has no transcript in this store")
        return files

    def _append(self, worker_id: str, files: WorkerFiles, entry: Entry) -> None:
        with store_errors(f"transcript of worker {worker_id}"):
            ok = self.sessions.append_if_count(files.session, files.segment, entry, files.count)
        if not ok:
            raise StoreCorrupt(
                f"the transcript of worker {worker_id} was changed by another writer"
            )
        files.count += 1

    def _truncate(self, worker_id: str, files: WorkerFiles, keep: int) -> None:
        with store_errors(f"transcript of worker {worker_id}"):
            self.sessions.truncate(files.session, files.segment, keep)
        files.count = keep

    def _write_status(self, worker: WorkerRecord, event: RuntimeEvent, undo: _Undo) -> None:
        worker_id = worker.ref.worker_id
        files = self._files(worker_id)
        count = files.count
        self._append(worker_id, files, mapping.status_entry(self.runtime_id, worker, event))
        undo.steps.append(lambda: self._truncate(worker_id, files, count))
        before: list[PodRecord] = []

        def apply(record: PodRecord) -> PodRecord:
            before.append(record)
            return with_status(record, worker.status, event.at)

        self.claim_pod(worker_id, apply)
        undo.steps.append(lambda: self._put_pod_back(worker_id, before[0]))

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
