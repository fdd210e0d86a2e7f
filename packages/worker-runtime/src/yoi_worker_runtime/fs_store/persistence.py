"""StoreBackedPersistence: a Runtime kept in a Pod store and a session store.

Commit rule. Every Runtime change is one entry appended to the Runtime's event log session (see
:mod:`.mapping`). That append is the commit point: a change is acknowledged exactly when its
commit entry is in the log. Everything else a change writes is written *before* the commit and
undone if the commit fails:

1. the Worker's transcript entry (``append_if_count``, so nobody else can slip in between),
2. the Pod record (a new Pod's claim; a status change),
3. the commit entry.

If a later step fails, the earlier ones are undone (the transcript is truncated back to its
committed length, the Pod record put back), and the Runtime, which changes memory only after
the call returns, stays as it was. If an undo fails too, the persistence refuses every further
change (StoreIo) until the Runtime is reopened, since only a reopen can put disk and memory back
in agreement. A crash between the steps leaves the same half-done state, and a reopen resolves
it the same way: transcript entries the Runtime wrote under an event id the log does not hold
are cut off (a ``store.rolled_back`` diagnostic), and Pod statuses are rewritten from the log.

After the commit, only hints are written, best effort: the Pod's ``last_activity_at`` (at most
every :data:`ACTIVITY_INTERVAL` seconds per Worker while input flows, and on close).
"""

from __future__ import annotations

import contextlib
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
from yoi_pod_store.contract import HostingLease, PodStore
from yoi_pod_store.errors import CorruptPodRecord
from yoi_pod_store.model import ActivePointer, PodRecord
from yoi_pod_store.model import RuntimeRecord as PodRuntimeRecord
from yoi_pod_store.model import WorkerStatus as PodWorkerStatus
from yoi_session_store.contract import SessionStore
from yoi_session_store.errors import TornTailWarning
from yoi_session_store.ids import (
    SegmentId,
    SessionId,
    is_canonical_uuid,
    new_segment_id,
    new_session_id,
)
from yoi_session_store.model import Entry

from yoi_worker_runtime.errors import (
    StoreCorrupt,
    StoreIo,
    StoreMissing,
    WorkerConflict,
    WorkerRuntimeError,
)
from yoi_worker_runtime.fs_store import mapping
from yoi_worker_runtime.fs_store.errors import store_errors, translate_error
from yoi_worker_runtime.model import (
    Backend,
    RuntimeDiagnostic,
    RuntimeEvent,
    RuntimeRecord,
    Severity,
    TranscriptEntry,
    WorkerRecord,
    WorkerRef,
    WorkerStatus,
)
from yoi_worker_runtime.persistence import RestoredRuntime, RestoredWorker
from yoi_worker_runtime.timestamps import utc_now

#: Seconds between best-effort ``last_activity_at`` updates of a Pod while input flows.
ACTIVITY_INTERVAL = 10.0

_STATUS_OF_POD: dict[PodWorkerStatus | None, WorkerStatus] = {
    PodWorkerStatus.RUNNING: "running",
    PodWorkerStatus.STOPPED: "stopped",
    PodWorkerStatus.CANCELLED: "cancelled",
}

_TORN = re.compile(r"\((\d+) bytes at byte offset (\d+)\)")


@attrs.define
class _WorkerFiles:
    """Where a hosted Worker's transcript lives and how many entries it holds."""

    session: SessionId
    segment: SegmentId
    count: int
    #: The newest activity not yet written to the Pod record, and when one was last written.
    pending_activity: str | None = None
    activity_written: float = 0.0


@attrs.frozen
class _Claim:
    """What ``claim_worker`` found for a restore, checked again when the restore is recorded."""

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


class StoreBackedPersistence:
    """A :class:`~yoi_worker_runtime.persistence.RuntimePersistence` on the two store contracts.

    ``lease`` must be the open hosting lease of the Runtime's id (``pods.host(runtime_id)``): it
    is what makes this Runtime's Pods probe live, and what keeps a second process out. The
    persistence closes the lease in :meth:`close`, and the stores too when ``close_stores``.
    """

    def __init__(
        self,
        pods: PodStore,
        sessions: SessionStore,
        lease: HostingLease,
        *,
        close_stores: bool = False,
    ) -> None:
        self._pods = pods
        self._sessions = sessions
        self._lease = lease
        self._runtime_id = lease.runtime_id
        self._close_stores = close_stores
        self._closed = False
        self._broken: str | None = None
        self._events_session: SessionId | None = None
        self._events_segment: SegmentId | None = None
        self._events_count = 0
        self._last_event_id = 0
        self._workers: dict[str, _WorkerFiles] = {}
        self._claims: dict[str, _Claim] = {}
        self._record: PodRuntimeRecord | None = None

    @property
    def backend(self) -> Backend:
        return "fs_store"

    @property
    def runtime_id(self) -> str:
        return self._runtime_id

    # --- loading ------------------------------------------------------------------------------

    def load(self) -> RestoredRuntime | None:
        runtime_id = self._runtime_id
        with store_errors(f"runtime record {runtime_id}"):
            record = self._pods.read_runtime(runtime_id)
        if record is None:
            return None
        session, segment = _events_location(record)
        label = f"event log of runtime {runtime_id} (session {session})"
        diagnostics: list[RuntimeDiagnostic] = []
        try:
            entries, torn = self._read(session, segment, label)
        except StoreMissing:
            raise StoreMissing(f"{label} is missing") from None
        if torn:
            diagnostics.append(_diagnostic("warning", "store.torn_tail", "events", torn % label))
        diagnostics += self._stray_segments(session, segment, label, "events")
        replayed = mapping.replay(entries, label)
        for position, kind in replayed.ignored:
            diagnostics.append(
                _diagnostic(
                    "warning",
                    "store.unknown_entry",
                    f"events.{position}",
                    f"{label}: entry {position} ({kind}) is not a Runtime commit; it was ignored",
                )
            )
        events = replayed.events
        if not events:
            raise StoreCorrupt(f"{label} holds no events")
        self._events_session, self._events_segment = session, segment
        self._events_count = len(entries)
        self._last_event_id = events[-1].id
        stopped = [event for event in events if event.kind == "runtime_stopped"]
        runtime = RuntimeRecord(
            runtime_id=runtime_id,
            display_name=record.display_name or runtime_id,
            status="stopped" if stopped else "running",
            started_at=events[0].at,
            stopped_at=stopped[-1].at if stopped else None,
        )
        workers: list[RestoredWorker] = []
        for worker_id, body in replayed.workers.items():
            restored = self._load_worker(worker_id, body, diagnostics)
            if restored is not None:
                workers.append(restored)
        self._record = record
        self._write_runtime_record(last_opened_at=utc_now())
        return RestoredRuntime(
            runtime=runtime,
            workers=tuple(workers),
            events=tuple(events),
            diagnostics=tuple(diagnostics),
        )

    def _load_worker(
        self, worker_id: str, body: dict[str, Any], diagnostics: list[RuntimeDiagnostic]
    ) -> RestoredWorker | None:
        """One Worker of the log, if its Pod is still this Runtime's; else a diagnostic."""
        runtime_id = self._runtime_id
        worker = mapping.worker_from_json(body, f"worker {worker_id} in the event log")
        ref = worker.ref

        def skip(severity: Severity, code: str, message: str) -> None:
            diagnostics.append(_diagnostic(severity, code, worker_id, message, ref))

        try:
            # Under the Pod's lock: a restore by another Runtime is either done (we see it) or
            # not started (it will find this Runtime live and refuse).
            with store_errors(f"pod {worker_id}"), self._pods.locked(worker_id) as pod:
                current = pod.read()
        except WorkerRuntimeError as exc:
            skip("error", "worker.unreadable", f"worker {worker_id} was not restored: {exc}")
            return None
        if current is None:
            skip(
                "info",
                "worker.deleted",
                f"worker {worker_id} was not restored: its Pod metadata was deleted",
            )
            return None
        if current.hosting_runtime_id not in (runtime_id, None):
            skip(
                "info",
                "worker.moved",
                f"worker {worker_id} was not restored: runtime "
                f"{current.hosting_runtime_id} hosts its Pod now",
            )
            return None
        if current.active is None or current.active.segment_id is None:
            skip("error", "worker.unreadable", f"worker {worker_id} has no transcript session")
            return None
        session, segment = mapping.ids(current.active)
        label = f"transcript of worker {worker_id} (session {session})"
        try:
            entries, torn = self._read(session, segment, label)
            if torn:
                skip("warning", "store.torn_tail", torn % label)
            keep = self._committed_length(entries)
            if keep < len(entries):
                with store_errors(label):
                    self._sessions.truncate(session, segment, keep)
                skip(
                    "warning",
                    "store.rolled_back",
                    f"{label}: cut off {len(entries) - keep} entries of a change that was "
                    "never committed (an interrupted write)",
                )
                entries = entries[:keep]
        except WorkerRuntimeError as exc:
            skip("error", "worker.unreadable", f"worker {worker_id} was not restored: {exc}")
            return None
        diagnostics += self._stray_segments(session, segment, label, worker_id)
        transcript = mapping.transcript_of(ref, entries)
        if len(transcript) != worker.transcript_len:
            skip(
                "error",
                "worker.unreadable",
                f"worker {worker_id} was not restored: the event log counts "
                f"{worker.transcript_len} transcript entries, its session holds "
                f"{len(transcript)}",
            )
            return None
        if current.hosting_runtime_id is None or current.worker_status != worker.status:
            # A status written before a commit that never came, or a Pod released by hand.
            with contextlib.suppress(WorkerRuntimeError):
                self._claim_pod(worker_id, lambda record: _with_status(record, worker.status, None))
        self._workers[worker_id] = _WorkerFiles(session, segment, len(entries))
        return RestoredWorker(worker=worker, transcript=tuple(transcript))

    def _committed_length(self, entries: Sequence[Entry], start: int = 1) -> int:
        """How many leading entries are committed: an entry this Runtime wrote under an event id
        past the end of its log belongs to an interrupted change, and so does all after it."""
        for position in range(start, len(entries)):
            marker = mapping.marker_of(entries[position])
            if (
                marker is not None
                and marker.runtime_id == self._runtime_id
                and marker.event_id > self._last_event_id
            ):
                return position
        return len(entries)

    # --- claims (restore by name) -------------------------------------------------------------

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        self._check_usable()
        worker_id = ref.worker_id
        with store_errors(f"pod {worker_id}"):
            try:
                current = self._pods.read(worker_id)
            except CorruptPodRecord as exc:
                raise WorkerConflict(
                    worker_id,
                    f"has unreadable Pod metadata ({exc.detail}); "
                    f"delete it (yoi pod delete {worker_id}) to start afresh",
                ) from None
            if current is None:
                return None
            other = current.hosting_runtime_id
            if other is not None and other != self._runtime_id:
                liveness = self._pods.probe_runtime(other)
                if not liveness.stopped:
                    raise WorkerConflict(
                        worker_id, f"is hosted by runtime {other} ({liveness.reason})"
                    )
        try:
            definition, created_at = mapping.definition_of(current.resolved_manifest_snapshot)
            if current.active is None or current.active.segment_id is None:
                raise ValueError("it has no transcript session")
        except ValueError as exc:
            raise WorkerConflict(
                worker_id,
                f"has Pod metadata that cannot be restored as a Worker: {exc}; "
                f"delete it (yoi pod delete {worker_id}) to start afresh",
            ) from None
        session, segment = mapping.ids(current.active)
        label = f"transcript of worker {worker_id} (session {session})"
        entries, _ = self._read(session, segment, label)
        keep = self._restorable_length(entries)
        transcript = mapping.transcript_of(ref, entries[:keep])
        at = mapping.format_time(current.last_activity_at) if current.last_activity_at else None
        worker = WorkerRecord(
            ref=ref,
            definition=definition,
            status=_STATUS_OF_POD.get(current.worker_status, "stopped"),
            created_at=created_at,
            updated_at=at or created_at,
            transcript_len=len(transcript),
            last_event_id=1,
        )
        self._claims[worker_id] = _Claim(current, session, segment, keep, len(entries))
        return RestoredWorker(worker=worker, transcript=tuple(transcript))

    def _restorable_length(self, entries: Sequence[Entry]) -> int:
        """Like :meth:`_committed_length`, judging each entry by the log of the Runtime that
        wrote it (the transcript may come from a former host that crashed mid-change)."""
        committed: dict[str, int | None] = {self._runtime_id: self._last_event_id}
        for position in range(1, len(entries)):
            marker = mapping.marker_of(entries[position])
            if marker is None:
                continue
            if marker.runtime_id not in committed:
                committed[marker.runtime_id] = self._last_event_of(marker.runtime_id)
            last = committed[marker.runtime_id]
            if last is not None and marker.event_id > last:
                return position
        return len(entries)

    def _last_event_of(self, runtime_id: str) -> int | None:
        """The last committed event id of another Runtime's log (None: cannot tell)."""
        try:
            record = self._pods.read_runtime(runtime_id)
            if record is None:
                return None
            session, segment = _events_location(record)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TornTailWarning)
                entries = self._sessions.read_all(session, segment)
            events = mapping.replay(entries, "event log").events
        except Exception:
            return None
        return events[-1].id if events else None

    # --- changes ------------------------------------------------------------------------------

    def record_runtime_started(self, runtime: RuntimeRecord, event: RuntimeEvent) -> None:
        self._check_usable()
        session, segment = new_session_id(), new_segment_id()
        start = mapping.segment_start(
            session, event.at, runtime_id=runtime.runtime_id, log="events"
        )
        with store_errors(f"event log of runtime {runtime.runtime_id}"):
            self._sessions.create_segment(session, segment, [start, _commit([event], ())])
        record = PodRuntimeRecord(
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
                self._record = self._pods.write_runtime(record)
        except BaseException:
            self._forget_session(session)
            raise
        self._events_session, self._events_segment = session, segment
        self._events_count = 2
        self._last_event_id = event.id

    def record_worker_created(self, worker: WorkerRecord, event: RuntimeEvent) -> None:
        self._check_usable()
        worker_id = worker.ref.worker_id
        session, segment = new_session_id(), new_segment_id()
        start = mapping.segment_start(
            session,
            event.at,
            runtime_id=self._runtime_id,
            worker_id=worker_id,
            event_id=event.id,
        )
        with self._change() as undo:
            with store_errors(f"transcript of worker {worker_id}"):
                self._sessions.create_segment(session, segment, [start])
            undo.steps.append(lambda: self._forget_session(session))

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

            self._claim_pod(worker_id, prepare, allow_missing=True)
            undo.steps.append(lambda: self._delete_pod(worker_id, session))
            self._commit([event], [mapping.worker_json(worker, with_definition=True)])
        self._workers[worker_id] = _WorkerFiles(
            session, segment, 1, activity_written=time.monotonic()
        )

    def record_worker_restored(
        self, worker: WorkerRecord, transcript: Sequence[TranscriptEntry], event: RuntimeEvent
    ) -> None:
        self._check_usable()
        worker_id = worker.ref.worker_id
        claim = self._claims.pop(worker_id, None)
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
                        self._sessions.truncate(claim.session, claim.segment, claim.keep)
                return attrs.evolve(
                    current,
                    resolved_manifest_snapshot=mapping.snapshot(worker),
                    worker_status=PodWorkerStatus.RUNNING,
                    last_activity_at=mapping.parse_time(event.at),
                )

            self._claim_pod(worker_id, prepare)
            undo.steps.append(lambda: self._put_pod_back(worker_id, claim.seen))
            files = _WorkerFiles(
                claim.session, claim.segment, claim.keep, activity_written=time.monotonic()
            )
            self._append(worker_id, files, mapping.restored_entry(self._runtime_id, event))
            undo.steps.append(lambda: self._truncate(worker_id, files, claim.keep))
            self._commit([event], [mapping.worker_json(worker, with_definition=True)])
        self._workers[worker_id] = files

    def record_input(
        self, worker: WorkerRecord, entry: TranscriptEntry, event: RuntimeEvent
    ) -> None:
        self._check_usable()
        worker_id = worker.ref.worker_id
        files = self._files(worker_id)
        count = files.count
        with self._change() as undo:
            self._append(worker_id, files, mapping.input_entry(self._runtime_id, entry))
            undo.steps.append(lambda: self._truncate(worker_id, files, count))
            self._commit([event], [mapping.worker_json(worker, with_definition=False)])
        self._touch(worker_id, files, event.at)

    def record_worker_status(self, worker: WorkerRecord, event: RuntimeEvent) -> None:
        self._check_usable()
        with self._change() as undo:
            self._write_status(worker, event, undo)
            self._commit([event], [mapping.worker_json(worker, with_definition=False)])

    def record_runtime_stopped(
        self,
        runtime: RuntimeRecord,
        workers: Sequence[WorkerRecord],
        events: Sequence[RuntimeEvent],
    ) -> None:
        self._check_usable()
        by_worker = {event.worker_ref.worker_id: event for event in events if event.worker_ref}
        with self._change() as undo:
            for worker in workers:
                self._write_status(worker, by_worker[worker.ref.worker_id], undo)
            self._commit(
                events, [mapping.worker_json(worker, with_definition=False) for worker in workers]
            )
        with contextlib.suppress(WorkerRuntimeError):  # a hint for picking a default runtime
            self._write_runtime_record(stopped_at=runtime.stopped_at or events[-1].at)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for worker_id, files in self._workers.items():
                if files.pending_activity is not None:
                    self._write_activity(worker_id, files)
        finally:
            try:
                with store_errors(f"hosting lease of runtime {self._runtime_id}"):
                    self._lease.close()
            finally:
                if self._close_stores:
                    with contextlib.suppress(Exception):
                        self._sessions.close()
                    with contextlib.suppress(Exception):
                        self._pods.close()

    # --- steps --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _change(self) -> Iterator[_Undo]:
        """Run a change's steps; when one fails, undo the earlier ones (newest first)."""
        undo = _Undo()
        try:
            yield undo
        except BaseException:
            for step in reversed(undo.steps):
                try:
                    step()
                except Exception as exc:
                    translated = translate_error(exc, "undo")
                    self._broken = (
                        f"a failed change could not be undone ({translated or exc}); "
                        "reopen the runtime to repair the store"
                    )
            raise

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise StoreIo(self._broken)
        # A Runtime whose hosting lease lapsed (a TTL lease on a shared store) must not write as
        # the host of Pods another host may already be cleaning up.
        with store_errors(f"hosting lease of runtime {self._runtime_id}"):
            self._lease.ensure_held()

    def _commit(self, events: Sequence[RuntimeEvent], workers: Sequence[dict[str, Any]]) -> None:
        """Append the change's commit entry: from here on the change is acknowledged."""
        assert self._events_session is not None and self._events_segment is not None
        with store_errors(f"event log of runtime {self._runtime_id}"):
            ok = self._sessions.append_if_count(
                self._events_session,
                self._events_segment,
                _commit(events, workers),
                self._events_count,
            )
        if not ok:
            raise StoreCorrupt(
                f"the event log of runtime {self._runtime_id} was changed by another writer"
            )
        self._events_count += 1
        self._last_event_id = events[-1].id

    def _files(self, worker_id: str) -> _WorkerFiles:
        files = self._workers.get(worker_id)
        if files is None:
            raise StoreMissing(f"worker {worker_id} has no transcript in this store")
        return files

    def _append(self, worker_id: str, files: _WorkerFiles, entry: Entry) -> None:
        with store_errors(f"transcript of worker {worker_id}"):
            ok = self._sessions.append_if_count(files.session, files.segment, entry, files.count)
        if not ok:
            raise StoreCorrupt(
                f"the transcript of worker {worker_id} was changed by another writer"
            )
        files.count += 1

    def _truncate(self, worker_id: str, files: _WorkerFiles, keep: int) -> None:
        with store_errors(f"transcript of worker {worker_id}"):
            self._sessions.truncate(files.session, files.segment, keep)
        files.count = keep

    def _write_status(self, worker: WorkerRecord, event: RuntimeEvent, undo: _Undo) -> None:
        worker_id = worker.ref.worker_id
        files = self._files(worker_id)
        count = files.count
        self._append(worker_id, files, mapping.status_entry(self._runtime_id, worker, event))
        undo.steps.append(lambda: self._truncate(worker_id, files, count))
        before: list[PodRecord] = []

        def apply(record: PodRecord) -> PodRecord:
            before.append(record)
            return _with_status(record, worker.status, event.at)

        self._claim_pod(worker_id, apply)
        undo.steps.append(lambda: self._put_pod_back(worker_id, before[0]))

    def _claim_pod(
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
            self._lease.claim(worker_id, checked)

    def _put_pod_back(self, worker_id: str, previous: PodRecord) -> None:
        with store_errors(f"pod {worker_id}"):
            self._pods.update(
                worker_id,
                lambda current: (
                    previous
                    if current is not None and current.hosting_runtime_id == self._runtime_id
                    else None
                ),
            )

    def _delete_pod(self, worker_id: str, session: SessionId) -> None:
        with store_errors(f"pod {worker_id}"), self._pods.locked(worker_id) as pod:
            current = pod.read()
            if current is not None and current.active and current.active.session_id == session:
                pod.delete()

    def _forget_session(self, session: SessionId) -> None:
        """Best effort: remove a session nothing refers to (a change that did not happen).
        Left behind, it is only an unreferenced session that ``session prune`` removes."""
        with contextlib.suppress(Exception):
            self._sessions.delete_session(session)

    def _touch(self, worker_id: str, files: _WorkerFiles, at: str) -> None:
        files.pending_activity = at
        if time.monotonic() - files.activity_written >= ACTIVITY_INTERVAL:
            self._write_activity(worker_id, files)

    def _write_activity(self, worker_id: str, files: _WorkerFiles) -> None:
        """Best effort: the activity time is a hint (the session's own times say it too)."""
        at = files.pending_activity
        if at is None:
            return
        moment = mapping.parse_time(at)
        try:
            with store_errors(f"pod {worker_id}"):
                self._pods.update(
                    worker_id,
                    lambda current: (
                        attrs.evolve(current, last_activity_at=moment)
                        if current is not None and current.hosting_runtime_id == self._runtime_id
                        else None
                    ),
                )
        except WorkerRuntimeError:
            return
        files.pending_activity = None
        files.activity_written = time.monotonic()

    def _write_runtime_record(self, **state: str | None) -> None:
        assert self._record is not None
        extra = dict(self._record.extra)
        own = dict(extra.get(mapping.RUNTIME_RECORD_KEY) or {})
        own.update(state)
        extra[mapping.RUNTIME_RECORD_KEY] = own
        with store_errors(f"runtime record {self._runtime_id}"):
            self._record = self._pods.write_runtime(attrs.evolve(self._record, extra=extra))

    # --- reading ------------------------------------------------------------------------------

    def _read(self, session: SessionId, segment: SegmentId, label: str) -> tuple[list[Entry], str]:
        """Every committed entry, and a message template (``%s``: the label) if the segment
        ended in an incomplete line, which the store skipped."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TornTailWarning)
            with store_errors(label):
                entries = self._sessions.read_all(session, segment)
        torn = ""
        for warning in caught:
            if issubclass(warning.category, TornTailWarning):
                found = _TORN.search(str(warning.message))
                where = (
                    f" ({found.group(1)} bytes at byte offset {found.group(2)})" if found else ""
                )
                torn = (
                    f"%s ends in an incomplete entry{where} left by an interrupted write; "
                    "it was ignored and is cut off before the next append"
                )
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        return entries, torn

    def _stray_segments(
        self, session: SessionId, segment: SegmentId, label: str, key: str
    ) -> list[RuntimeDiagnostic]:
        try:
            with store_errors(label):
                segments = self._sessions.list_segments(session)
        except WorkerRuntimeError:
            return []
        return [
            _diagnostic(
                "warning",
                "store.stray_segment",
                f"{key}.{info.segment_id}",
                f"{label} holds segment {info.segment_id}, which the Runtime did not write; "
                "it was ignored",
            )
            for info in segments
            if info.segment_id != segment
        ]


def _commit(events: Sequence[RuntimeEvent], workers: Sequence[dict[str, Any]]) -> Entry:
    return mapping.commit_entry(events, workers)


def _events_location(record: PodRuntimeRecord) -> tuple[SessionId, SegmentId]:
    own = record.extra.get(mapping.RUNTIME_RECORD_KEY)
    segment = own.get("events_segment_id") if isinstance(own, dict) else None
    session = record.events_session_id
    if session is None or not isinstance(segment, str) or not is_canonical_uuid(segment):
        raise StoreCorrupt(f"runtime record {record.runtime_id} holds no yoi Runtime event log")
    return SessionId(session), SegmentId(segment)


def _with_status(record: PodRecord, status: str, at: str | None) -> PodRecord:
    return attrs.evolve(
        record,
        worker_status=PodWorkerStatus(status),
        last_activity_at=mapping.parse_time(at) if at else record.last_activity_at,
    )


def _diagnostic(
    severity: Severity, code: str, key: str, message: str, ref: WorkerRef | None = None
) -> RuntimeDiagnostic:
    return RuntimeDiagnostic(
        id=f"{code}@{key}", severity=severity, code=code, message=message, worker_ref=ref
    )


def default_runtime_id(pods: PodStore) -> str | None:
    """The runtime a store opens when no id is given: the Runtime opened most recently on it
    (``last_opened_at`` in its runtime record), or None (start a new one) when there is none or
    that one has stopped."""
    with store_errors("runtime records"):
        listings = pods.list_runtimes()
    latest: tuple[str, str, bool] | None = None
    for listing in listings:
        record = listing.record
        own = record.extra.get(mapping.RUNTIME_RECORD_KEY) if record is not None else None
        if not isinstance(own, dict):
            continue
        opened = own.get("last_opened_at")
        if isinstance(opened, str) and (latest is None or opened > latest[0]):
            latest = (opened, listing.runtime_id, bool(own.get("stopped_at")))
    if latest is None or latest[2]:
        return None
    return latest[1]
