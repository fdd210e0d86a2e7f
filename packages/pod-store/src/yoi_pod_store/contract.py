"""The contract every Pod store backend implements.

A backend subclasses :class:`PodStore` and implements its abstract methods: a per-name lock
(:meth:`PodStore.locked`), an unlocked read, the listing, the hosting lease and the runtime
probe, and the runtime records. Everything else (update, delete, the ``set_*`` helpers, the
Pod probe and :meth:`PodStore.delete_if_stopped`) is written once here on top of those, so every
backend gets the same semantics. :mod:`yoi_pod_store.testing` checks a backend against it.
"""

from __future__ import annotations

import abc
import builtins
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import attrs

from yoi_pod_store.errors import (
    CorruptPodRecord,
    CorruptRuntimeRecord,
    LeaseClosed,
    LeaseLost,
    PodHostedElsewhere,
    PodStoreError,
    safe_repr,
)
from yoi_pod_store.model import (
    ActivePointer,
    Peer,
    PodRecord,
    ReclaimedChild,
    RuntimeRecord,
    SpawnedChild,
    utc_now,
)
from yoi_pod_store.names import validate_pod_name

#: The longest a liveness probe may wait for an answer, in seconds.
MAX_PROBE_TIMEOUT = 0.5

_KEEP: Any = object()


class LivenessState(StrEnum):
    #: Positively alive (or starting): never delete.
    LIVE = "live"
    #: Positively nothing there: safe to clean up.
    STOPPED = "stopped"
    #: The probe could not tell (error, timeout, inconsistent signals): refuse destructive actions.
    UNCERTAIN = "uncertain"


@attrs.frozen
class Liveness:
    """The answer of a liveness probe: a state and a human-readable reason."""

    state: LivenessState
    reason: str
    #: The runtime the probe asked about, if any.
    runtime_id: str | None = None
    #: Where that runtime answers (``fs``: its socket path), if known.
    hint: str | None = None

    @property
    def live(self) -> bool:
        return self.state is LivenessState.LIVE

    @property
    def stopped(self) -> bool:
        return self.state is LivenessState.STOPPED

    @property
    def uncertain(self) -> bool:
        return self.state is LivenessState.UNCERTAIN


@attrs.frozen
class PodListing:
    """One entry of :meth:`PodStore.list_pods`: a record, or why it cannot be read."""

    name: str
    record: PodRecord | None = None
    error: CorruptPodRecord | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.frozen
class RuntimeListing:
    runtime_id: str
    record: RuntimeRecord | None = None
    error: CorruptRuntimeRecord | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class DeleteResult(StrEnum):
    DELETED = "deleted"
    #: ``dry_run``: everything allowed the delete; nothing was removed.
    WOULD_DELETE = "would_delete"
    #: There was no record.
    MISSING = "missing"
    #: The probe said live or uncertain; nothing was removed.
    REFUSED = "refused"
    #: The Pod was active at or after the given cutoff; nothing was removed.
    KEPT_NEWER = "kept_newer"


@attrs.frozen
class DeleteOutcome:
    """What :meth:`PodStore.delete_if_stopped` found and did, decided under the per-name lock."""

    name: str
    result: DeleteResult
    #: The fresh probe taken under the lock (``None`` when the record was missing).
    liveness: Liveness | None = None
    #: The record as it was before the delete (``None`` if missing or corrupt).
    record: PodRecord | None = None
    #: Set when the record was corrupt (it is still deleted when stopped).
    corrupt: CorruptPodRecord | None = None
    last_activity: datetime | None = None
    #: Bytes of storage freed (0 unless deleted; backends that cannot tell report 0).
    reclaimed_bytes: int = 0

    @property
    def deleted(self) -> bool:
        return self.result is DeleteResult.DELETED


class LockedPod(abc.ABC):
    """One Pod name, held under its per-name lock (see :meth:`PodStore.locked`)."""

    name: str

    @abc.abstractmethod
    def read(self) -> PodRecord | None:
        """The record, ``None`` if missing; raise :class:`CorruptPodRecord` if unreadable."""

    @abc.abstractmethod
    def write(self, record: PodRecord) -> None:
        """Replace the record atomically (``record.pod_name`` equals :attr:`name`)."""

    @abc.abstractmethod
    def delete(self) -> int:
        """Remove the record (corrupt or not); return bytes freed. Missing: return 0."""

    @abc.abstractmethod
    def size(self) -> int:
        """Bytes :meth:`delete` would free now (0 if missing); what a dry run reports."""

    @abc.abstractmethod
    def written_at(self) -> datetime | None:
        """When the record was last written, if the backend knows (also for corrupt records)."""


class HostingLease(abc.ABC):
    """A Runtime's claim "I am alive and host these Pods", held for as long as it lives.

    Open it with :meth:`PodStore.host` before claiming any Pod, so a Pod claimed by it can never
    read as stopped while it lives. Use it as a context manager or call :meth:`close`.
    """

    def __init__(self, store: PodStore, runtime_id: str) -> None:
        self.store = store
        self.runtime_id = runtime_id
        self._closed = False
        self._lost_reason: str | None = None
        self._lost_callbacks: list[Callable[[str], None]] = []
        self._lost_lock = threading.Lock()

    @property
    def hint(self) -> str | None:
        """The liveness hint written into claimed Pods (``fs``: the socket path)."""
        return None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def lost(self) -> bool:
        """True once the lease lapsed for good (backends whose leases expire, e.g. by TTL)."""
        return self._lost_reason is not None

    @property
    def lost_reason(self) -> str | None:
        """Why the lease was lost; None while it is not."""
        return self._lost_reason

    def on_lost(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` once, when the lease is found lost (at once if it already
        is). It runs in whichever thread finds out (a heartbeat, a write): keep it short."""
        with self._lost_lock:
            reason = self._lost_reason
            if reason is None:
                self._lost_callbacks.append(callback)
                return
        callback(reason)

    def _declare_lost(self, reason: str) -> None:
        """Record that the lease lapsed for good and tell the :meth:`on_lost` callbacks (for
        backends whose leases can lapse)."""
        with self._lost_lock:
            if self._lost_reason is not None:
                return
            self._lost_reason = reason
            callbacks, self._lost_callbacks = self._lost_callbacks, []
        for callback in callbacks:
            callback(reason)

    def ensure_held(self) -> None:
        """Raise unless this lease is still held: call before every write made as the host, and
        after a write whose acknowledgement depends on the lease having held throughout.

        :class:`LeaseClosed` after :meth:`close`; :class:`LeaseLost` once the lease lapsed, so a
        Runtime never writes as the host of Pods that other hosts may already judge stopped.
        """
        if self._closed:
            raise LeaseClosed(self.runtime_id)
        if self._lost_reason is not None:
            raise LeaseLost(self.runtime_id, self._lost_reason)

    def claim(
        self, name: str, prepare: Callable[[PodRecord | None], PodRecord] | None = None
    ) -> PodRecord:
        """Record this runtime as the host of ``name``, under the per-name lock.

        ``prepare`` gets the current record (``None`` if missing) and returns the record to
        store; by default an existing record is kept and a missing one created. An exception from
        ``prepare`` aborts the claim with nothing written. A Pod hosted by another runtime that
        is live or uncertain raises :class:`PodHostedElsewhere`; one whose host is stopped is
        taken over. A corrupt record raises :class:`CorruptPodRecord`.
        """
        validate_pod_name(name)

        def apply(current: PodRecord | None) -> PodRecord:
            if self._closed:
                raise LeaseClosed(self.runtime_id)
            other = current.hosting_runtime_id if current else None
            if other is not None and other != self.runtime_id:
                liveness = self.store.probe_runtime(other)
                if not liveness.stopped:
                    raise PodHostedElsewhere(name, other, liveness.reason)
            if prepare is not None:
                record = prepare(current)
            else:
                record = current if current is not None else PodRecord(name)
            return attrs.evolve(record, hosting_runtime_id=self.runtime_id, liveness_hint=self.hint)

        result = self.store.update(name, apply)
        assert result is not None
        return result

    def release(self, name: str) -> PodRecord | None:
        """Clear the hosting fields of ``name`` if this runtime holds them; else change nothing."""
        validate_pod_name(name)

        def apply(current: PodRecord | None) -> PodRecord | None:
            if current is None or current.hosting_runtime_id != self.runtime_id:
                return None
            return attrs.evolve(current, hosting_runtime_id=None, liveness_hint=None)

        self.store.update(name, apply)
        return self.store.read(name)

    def close(self) -> None:
        """Stop advertising liveness. Records are not rewritten: they now probe as stopped."""
        if not self._closed:
            self._closed = True
            self._close()

    @abc.abstractmethod
    def _close(self) -> None:
        """Release whatever signals liveness (backend-specific)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PodStore(abc.ABC):
    """Pod metadata, runtime records and liveness, for one store URL.

    Every method taking a Pod name (or runtime id) validates it first and raises
    :class:`~yoi_pod_store.errors.InvalidPodName` (``InvalidRuntimeId``) before touching storage.
    """

    #: The URL this store was opened with.
    url: str

    # ---- primitives each backend implements -------------------------------------------------

    @abc.abstractmethod
    def locked(self, name: str) -> AbstractContextManager[LockedPod]:
        """Hold the per-name lock of ``name`` (across processes where the backend is shared)."""

    @abc.abstractmethod
    def read(self, name: str) -> PodRecord | None:
        """The record of ``name``; ``None`` if missing; :class:`CorruptPodRecord` if unreadable."""

    @abc.abstractmethod
    def list_pods(self) -> builtins.list[PodListing]:
        """Every stored Pod sorted by name; a corrupt record is an entry with ``error`` set."""

    @abc.abstractmethod
    def host(self, runtime_id: str) -> HostingLease:
        """Open the hosting lease of ``runtime_id`` (:class:`RuntimeAlreadyHosted` if held)."""

    @abc.abstractmethod
    def probe_runtime(self, runtime_id: str) -> Liveness:
        """Is the runtime ``runtime_id`` alive? Bounded by :data:`MAX_PROBE_TIMEOUT`."""

    @abc.abstractmethod
    def probe_all_runtimes(self) -> builtins.list[Liveness]:
        """Probe every runtime lease the backend knows of (to judge records naming no host)."""

    @abc.abstractmethod
    def write_runtime(self, record: RuntimeRecord) -> RuntimeRecord:
        """Create or replace a runtime record atomically (``created_at`` stamped if unset)."""

    @abc.abstractmethod
    def read_runtime(self, runtime_id: str) -> RuntimeRecord | None:
        """``None`` if missing; :class:`CorruptRuntimeRecord` if unreadable."""

    @abc.abstractmethod
    def list_runtimes(self) -> builtins.list[RuntimeListing]:
        """Every runtime record sorted by id; corrupt ones listed with ``error`` set."""

    @abc.abstractmethod
    def delete_runtime(self, runtime_id: str) -> bool:
        """Remove a runtime record (corrupt or not); missing is a no-op returning ``False``."""

    def close(self) -> None:  # noqa: B027 (most backends hold nothing to release)
        """Release resources held by the store object (not leases, which close on their own)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- derived operations, the same for every backend -----------------------------------

    def write(self, record: PodRecord) -> PodRecord:
        """Create or replace the record under its lock (a corrupt record is replaced too).

        An unset ``created_at`` keeps the replaced record's, or is stamped with the current time.
        """
        validate_pod_name(record.pod_name)
        with self.locked(record.pod_name) as pod:
            try:
                current = pod.read() if record.created_at is None else None
            except CorruptPodRecord:
                current = None
            stored = _stamped(record, current)
            pod.write(stored)
        return stored

    def delete(self, name: str) -> bool:
        """Remove the record under its lock, corrupt or not; missing is a no-op (``False``)."""
        validate_pod_name(name)
        with self.locked(name) as pod:
            try:
                existed = pod.read() is not None
            except CorruptPodRecord:
                existed = True
            pod.delete()
        return existed

    def update(
        self, name: str, fn: Callable[[PodRecord | None], PodRecord | None]
    ) -> PodRecord | None:
        """Read-modify-write ``name`` atomically across every user of the store.

        ``fn`` gets the current record (``None`` if missing) and returns the new one, or ``None``
        to leave storage unchanged. The stored record always carries ``pod_name == name``. An
        exception from ``fn`` propagates with nothing written. A corrupt record raises
        :class:`CorruptPodRecord` (delete it explicitly instead). Returns the record now stored.
        """
        validate_pod_name(name)
        with self.locked(name) as pod:
            current = pod.read()
            new = fn(current)
            if new is None:
                return current
            if new.pod_name != name:
                new = attrs.evolve(new, pod_name=name)
            new = _stamped(new, current)
            pod.write(new)
            return new

    def last_activity(self, name: str) -> datetime | None:
        """Latest of the record's ``last_activity_at`` and when it was last written.

        Works on corrupt records too (write time only); ``None`` if there is no record.
        """
        validate_pod_name(name)
        with self.locked(name) as pod:
            return _last_activity(pod)

    def set_active(
        self,
        name: str,
        active: ActivePointer | None,
        *,
        resolved_manifest_snapshot: Any = None,
        workspace_root: str | None = None,
    ) -> PodRecord:
        """Replace the active pointer and the snapshot; keep children, peers and hosting.

        ``workspace_root`` is replaced only when given. Creates the record if missing.
        """

        def apply(current: PodRecord | None) -> PodRecord:
            base = current or PodRecord(name)
            return attrs.evolve(
                base,
                active=active,
                resolved_manifest_snapshot=resolved_manifest_snapshot,
                workspace_root=workspace_root
                if workspace_root is not None
                else base.workspace_root,
            )

        return self._update_existing_or_new(name, apply)

    def set_spawned_children(self, name: str, children: Iterable[SpawnedChild]) -> PodRecord:
        children = tuple(children)
        return self._update_existing_or_new(
            name,
            lambda current: attrs.evolve(current or PodRecord(name), spawned_children=children),
        )

    def set_peers(self, name: str, peers: Iterable[str]) -> PodRecord:
        """Replace the peers with ``peers`` (deduplicated, sorted)."""
        names = sorted({validate_pod_name(peer) for peer in peers})
        return self._update_existing_or_new(
            name,
            lambda current: attrs.evolve(
                current or PodRecord(name), peers=tuple(Peer(peer) for peer in names)
            ),
        )

    def add_peer(self, name: str, peer: str) -> PodRecord:
        """Add ``peer`` if absent, keeping the peers sorted."""
        validate_pod_name(peer)

        def apply(current: PodRecord | None) -> PodRecord:
            base = current or PodRecord(name)
            if peer in base.peer_names:
                return base
            merged = sorted((*base.peer_names, peer))
            return attrs.evolve(base, peers=tuple(Peer(p) for p in merged))

        return self._update_existing_or_new(name, apply)

    def remove_peer(self, name: str, peer: str) -> PodRecord | None:
        """Drop ``peer``; a missing record or absent peer changes nothing."""
        validate_pod_name(peer)

        def apply(current: PodRecord | None) -> PodRecord | None:
            if current is None or peer not in current.peer_names:
                return None
            return attrs.evolve(
                current, peers=tuple(p for p in current.peers if p.pod_name != peer)
            )

        return self.update(name, apply)

    def reclaim_spawned_children(self, name: str, child_names: Iterable[str]) -> PodRecord | None:
        """Move the named children from outstanding to the reclaimed audit list.

        Names not outstanding are ignored; a missing record changes nothing.
        """
        wanted = {validate_pod_name(child) for child in child_names}

        def apply(current: PodRecord | None) -> PodRecord | None:
            if current is None:
                return None
            taken = [c for c in current.spawned_children if c.pod_name in wanted]
            if not taken:
                return None
            return attrs.evolve(
                current,
                spawned_children=tuple(c for c in current.spawned_children if c not in taken),
                reclaimed_children=current.reclaimed_children
                + tuple(ReclaimedChild(c.pod_name, c.scope_delegated) for c in taken),
            )

        return self.update(name, apply)

    def probe(self, name: str) -> Liveness:
        """Is the Pod ``name`` live, stopped or uncertain? Never waits past the probe timeout.

        A missing record or a record with no hosting runtime is stopped; a hosted one is as live as
        its runtime. A corrupt record is stopped only if no runtime lease at all is live or
        uncertain (it cannot say who hosts it).
        """
        validate_pod_name(name)
        try:
            record = self.read(name)
        except CorruptPodRecord as exc:
            return self._probe_corrupt(exc)
        except (PodStoreError, OSError) as exc:
            # The store itself cannot be asked (I/O error, unreachable database): fail safe.
            return Liveness(
                LivenessState.UNCERTAIN, f"pod liveness is uncertain; the store failed ({exc})"
            )
        return self._probe_record(record)

    def delete_if_stopped(
        self,
        name: str,
        *,
        last_activity_before: datetime | None = None,
        dry_run: bool = False,
    ) -> DeleteOutcome:
        """The cleanup primitive: delete ``name`` only if a fresh probe says it is stopped.

        Everything is decided under the per-name lock, which every claim also takes, so a Runtime
        claiming the Pod either did so before (the probe sees it live) or comes after (it finds no
        record). With ``last_activity_before``, a Pod active at or after that time is kept. A
        corrupt record is deleted when stopped and reported in ``corrupt``. ``dry_run`` decides the
        same way and removes nothing.
        """
        # Equivalent mutant `statement removed`: each built-in backend's locked() checks it too;
        # checking here refuses a bad name before any backend code runs.
        validate_pod_name(name)
        with self.locked(name) as pod:
            corrupt: CorruptPodRecord | None = None
            try:
                record = pod.read()
            except CorruptPodRecord as exc:
                record, corrupt = None, exc
            if record is None and corrupt is None:
                return DeleteOutcome(name, DeleteResult.MISSING)
            liveness = self._probe_corrupt(corrupt) if corrupt else self._probe_record(record)
            activity = _last_activity(pod, record)
            outcome = DeleteOutcome(
                name,
                DeleteResult.REFUSED,
                liveness=liveness,
                record=record,
                corrupt=corrupt,
                last_activity=activity,
            )
            if not liveness.stopped:
                return outcome
            if last_activity_before is not None and (
                activity is None or activity >= last_activity_before
            ):
                return attrs.evolve(outcome, result=DeleteResult.KEPT_NEWER)
            if dry_run:
                return attrs.evolve(
                    outcome, result=DeleteResult.WOULD_DELETE, reclaimed_bytes=pod.size()
                )
            freed = pod.delete()
            return attrs.evolve(outcome, result=DeleteResult.DELETED, reclaimed_bytes=freed)

    # ---- helpers --------------------------------------------------------------------------

    def _update_existing_or_new(
        self, name: str, fn: Callable[[PodRecord | None], PodRecord]
    ) -> PodRecord:
        result = self.update(name, fn)
        assert result is not None
        return result

    def _probe_record(self, record: PodRecord | None) -> Liveness:
        if record is None:
            return Liveness(LivenessState.STOPPED, "pod metadata is missing")
        if record.hosting_runtime_id is None:
            return Liveness(LivenessState.STOPPED, "pod is not hosted by any runtime")
        return self.probe_runtime(record.hosting_runtime_id)

    def _probe_corrupt(self, error: CorruptPodRecord) -> Liveness:
        not_stopped = [probe for probe in self.probe_all_runtimes() if not probe.stopped]
        if not not_stopped:
            return Liveness(
                LivenessState.STOPPED,
                f"pod metadata is corrupt ({error.detail}) and no runtime is live",
            )
        who = ", ".join(safe_repr(p.runtime_id) if p.runtime_id else p.reason for p in not_stopped)
        return Liveness(
            LivenessState.UNCERTAIN,
            f"pod metadata is corrupt ({error.detail}) and runtimes that may host it are "
            f"live or uncertain: {who}",
        )


def _stamped(record: PodRecord, current: PodRecord | None) -> PodRecord:
    if record.created_at is not None:
        return record
    created = current.created_at if current and current.created_at else utc_now()
    return attrs.evolve(record, created_at=created)


def _last_activity(pod: LockedPod, record: PodRecord | None = _KEEP) -> datetime | None:
    if record is _KEEP:
        try:
            record = pod.read()
        except CorruptPodRecord:
            record = None
    written = pod.written_at()
    times = [t for t in (written, record.last_activity_at if record else None) if t is not None]
    return max(times) if times else None
