"""Reopen and repair: what a store-backed Runtime finds in the stores, and how it is made whole.

Recovery rule. The event log is the truth: a change happened exactly when its commit entry is
in the log (:mod:`.writes`). A crash, or an undo that failed, can leave a change half done;
reopening resolves it the way a failed commit would have: transcript entries the Runtime wrote
under an event id its log does not hold are cut off (a ``store.rolled_back`` diagnostic), and a
Pod status the log disagrees with is rewritten from the log. A restore by name judges a former
host's transcript entries against that host's own log the same way.

A transcript that holds fewer entries than a log counts lost acknowledged entries (a file cut
short, a bad restore from backup). The log holds no transcript text, so they cannot be put back;
restoring the rest would give their sequence numbers to other content. Such a Worker is never
restored, neither on reopen (``worker.transcript_lost``) nor by name (WorkerConflict), until the
session is put back or the Pod deleted.

What cannot be trusted is reported, never fatal to the whole Runtime: a torn last line
(``store.torn_tail``, cut off by the next append), a segment the Runtime did not write
(``store.stray_segment``), a log entry that is not a commit (``store.unknown_entry``), and a
Worker whose Pod was deleted, moved to another Runtime or cannot be read (left out with a
``worker.*`` diagnostic). Only an event log that cannot be read is StoreMissing/StoreCorrupt.
"""

from __future__ import annotations

import contextlib
import functools
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from yoi_pod_store.contract import PodStore
from yoi_pod_store.errors import CorruptPodRecord
from yoi_pod_store.model import PodRecord, RuntimeRecord
from yoi_pod_store.model import WorkerStatus as PodWorkerStatus
from yoi_session_store.contract import SessionStore
from yoi_session_store.errors import TornTailWarning
from yoi_session_store.ids import SegmentId, SessionId, is_canonical_uuid
from yoi_session_store.model import Entry

from yoi_worker_runtime.errors import (
    StoreCorrupt,
    StoreMissing,
    WorkerConflict,
    WorkerRuntimeError,
)
from yoi_worker_runtime.model import (
    RuntimeDiagnostic,
    RuntimeState,
    Severity,
    WorkerRecord,
    WorkerRef,
    WorkerStatus,
)
from yoi_worker_runtime.persistence import RestoredRuntime, RestoredWorker
from yoi_worker_runtime.store_backed import mapping, placement
from yoi_worker_runtime.store_backed.errors import store_errors
from yoi_worker_runtime.store_backed.writes import Claim, StoreWrites, WorkerFiles, with_status
from yoi_worker_runtime.timestamps import utc_now

_STATUS_OF_POD: dict[PodWorkerStatus | None, WorkerStatus] = {
    PodWorkerStatus.RUNNING: "running",
    PodWorkerStatus.STOPPED: "stopped",
    PodWorkerStatus.CANCELLED: "cancelled",
}

_TORN = re.compile(r"\((\d+) bytes at byte offset (\d+)\)")


@attrs.frozen
class _HostLog:
    """What a Runtime's event log says: its last event id and the latest JSON of each Worker."""

    last_event_id: int
    workers: dict[str, dict[str, Any]]

    def transcript_len(self, worker_id: str) -> int:
        """How many transcript entries of ``worker_id`` the log acknowledged (0: none)."""
        counted = self.workers.get(worker_id, {}).get("transcript_len")
        return counted if type(counted) is int else 0


class StoreRecovery:
    """Loads a Runtime (and restores Workers by name) from the stores, repairing through
    ``writes``, whose bookkeeping it fills in for the changes that follow."""

    def __init__(self, pods: PodStore, sessions: SessionStore, writes: StoreWrites) -> None:
        self._pods = pods
        self._sessions = sessions
        self._writes = writes
        self._runtime_id = writes.runtime_id
        #: The Workers of this Runtime's own log as loaded: a Worker it no longer hosts is
        #: never written to its log again while it is open.
        self._own_workers: dict[str, dict[str, Any]] = {}

    # --- reopen -------------------------------------------------------------------------------

    def load(self) -> RestoredRuntime | None:
        runtime_id = self._runtime_id
        with store_errors(f"runtime record {runtime_id}"):
            record = self._pods.read_runtime(runtime_id)
        if record is None:
            return None
        session, segment = events_location(record)
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
        writes = self._writes
        writes.events_session, writes.events_segment = session, segment
        writes.events_count = len(entries)
        writes.last_event_id = events[-1].id
        self._own_workers = replayed.workers
        stopped = [event for event in events if event.kind == "runtime_stopped"]
        runtime = RuntimeState(
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
        writes.record = record
        writes.write_runtime_record(
            last_opened_at=utc_now(), **{placement.ADVERTISE_URL_KEY: writes.advertise_url}
        )
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
        if len(transcript) < worker.transcript_len:
            skip(
                "error",
                "worker.transcript_lost",
                f"worker {worker_id}: "
                + _lost_entries(worker_id, runtime_id, worker.transcript_len, len(transcript)),
            )
            return None
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
                self._writes.claim_pod(
                    worker_id, lambda record: with_status(record, worker.status, None)
                )
        self._writes.workers[worker_id] = WorkerFiles(session, segment, len(entries))
        return RestoredWorker(worker=worker, transcript=tuple(transcript))

    def _committed_length(self, entries: Sequence[Entry], start: int = 1) -> int:
        """How many leading entries are committed: an entry this Runtime wrote under an event id
        past the end of its log belongs to an interrupted change, and so does all after it."""
        for position in range(start, len(entries)):
            marker = mapping.marker_of(entries[position])
            if (
                marker is not None
                and marker.runtime_id == self._runtime_id
                and marker.event_id > self._writes.last_event_id
            ):
                return position
        return len(entries)

    # --- restore by name ----------------------------------------------------------------------

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        """What the stores kept under ``ref``'s name (None: nothing); the claim it makes is
        checked again when the restore is recorded."""
        self._writes.check_usable()
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
        logs = functools.cache(self._host_log)  # each host's log read at most once
        keep = self._restorable_length(entries, logs)
        transcript = mapping.transcript_of(ref, entries[:keep])
        self._check_acknowledged(worker_id, current, entries, len(transcript), logs)
        at = mapping.format_time(current.last_activity_at) if current.last_activity_at else None
        turn_count, usage = mapping.turn_totals(entries[:keep])
        worker = WorkerRecord(
            ref=ref,
            definition=definition,
            status=_STATUS_OF_POD.get(current.worker_status, "stopped"),
            created_at=created_at,
            updated_at=at or created_at,
            transcript_len=len(transcript),
            last_event_id=1,
            turn_count=turn_count,
            usage=usage,
        )
        self._writes.claims[worker_id] = Claim(current, session, segment, keep, len(entries))
        return RestoredWorker(
            worker=worker,
            transcript=tuple(transcript),
            turns=tuple(mapping.turns_of(entries[:keep])),
            former_host=current.hosting_runtime_id,
        )

    def _restorable_length(
        self, entries: Sequence[Entry], logs: Callable[[str], _HostLog | None]
    ) -> int:
        """Like :meth:`_committed_length`, judging each entry by the log of the Runtime that
        wrote it (the transcript may come from a former host that crashed mid-change)."""
        for position in range(1, len(entries)):
            marker = mapping.marker_of(entries[position])
            if marker is None:
                continue
            log = logs(marker.runtime_id)
            if log is not None and marker.event_id > log.last_event_id:
                return position
        return len(entries)

    def _check_acknowledged(
        self,
        worker_id: str,
        current: PodRecord,
        entries: Sequence[Entry],
        held: int,
        logs: Callable[[str], _HostLog | None],
    ) -> None:
        """Refuse a transcript holding fewer entries than a Runtime that wrote it (or the Pod's
        last host, whose own entries may all be gone) acknowledged in its log."""
        hosts = {current.hosting_runtime_id} | {
            marker.runtime_id for entry in entries if (marker := mapping.marker_of(entry))
        }
        for runtime_id in sorted(host for host in hosts if host is not None):
            log = logs(runtime_id)
            counted = log.transcript_len(worker_id) if log is not None else 0
            if held < counted:
                raise WorkerConflict(
                    worker_id,
                    "cannot be restored: " + _lost_entries(worker_id, runtime_id, counted, held),
                )

    def _host_log(self, runtime_id: str) -> _HostLog | None:
        """What the event log of ``runtime_id`` says (None: cannot tell)."""
        if runtime_id == self._runtime_id:
            return _HostLog(self._writes.last_event_id, self._own_workers)
        try:
            record = self._pods.read_runtime(runtime_id)
            if record is None:
                return None
            session, segment = events_location(record)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TornTailWarning)
                entries = self._sessions.read_all(session, segment)
            replayed = mapping.replay(entries, "event log")
        except Exception:
            return None
        if not replayed.events:
            return None
        return _HostLog(replayed.events[-1].id, replayed.workers)

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


def _lost_entries(worker_id: str, runtime_id: str, counted: int, held: int) -> str:
    """Why a transcript that lost acknowledged entries is not restored, and what to do."""
    return (
        f"the event log of runtime {runtime_id} counts {counted} transcript entries, its "
        f"session holds {held}: acknowledged entries were lost from the store, and the log "
        f"holds no transcript text to restore them from. It is not restored, since sequence "
        f"numbers {held + 1} to {counted} would then name other content: put the session back "
        f"from a backup, or delete the Pod (yoi pod delete {worker_id}) to start afresh"
    )


def events_location(record: RuntimeRecord) -> tuple[SessionId, SegmentId]:
    """The session and segment of the event log a pod-store runtime record names."""
    own = record.extra.get(mapping.RUNTIME_RECORD_KEY)
    segment = own.get("events_segment_id") if isinstance(own, dict) else None
    session = record.events_session_id
    if session is None or not isinstance(segment, str) or not is_canonical_uuid(segment):
        raise StoreCorrupt(f"runtime record {record.runtime_id} holds no yoi Runtime event log")
    return SessionId(session), SegmentId(segment)


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
