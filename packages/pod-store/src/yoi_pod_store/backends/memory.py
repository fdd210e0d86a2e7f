"""The ``memory`` backend: Pod records in this process only.

``memory:`` opens a fresh, private store; ``memory://NAME`` opens the store named NAME, shared
by every open of that URL in this process (so a Runtime and a test can share one). Records are
kept in their stored JSON form, so they round-trip exactly as they do on disk. A lease is live
while its object is open; nothing outlives the process.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime

import attrs

from yoi_pod_store.contract import (
    HostingLease,
    Liveness,
    LivenessState,
    LockedPod,
    PodListing,
    PodStore,
    RuntimeListing,
)
from yoi_pod_store.errors import (
    CorruptPodRecord,
    CorruptRuntimeRecord,
    InvalidRecord,
    RuntimeAlreadyHosted,
    StoreUrlError,
    safe_repr,
)
from yoi_pod_store.model import (
    PodRecord,
    RecordFormatError,
    RuntimeRecord,
    encode_pod_record,
    encode_runtime_record,
    utc_now,
)
from yoi_pod_store.names import validate_pod_name, validate_runtime_id
from yoi_pod_store.stored import load_pod_record, load_runtime_record


@attrs.define
class _Stored:
    text: str
    written_at: datetime


class _State:
    """Everything one memory store holds; shared by every store object opened on it."""

    def __init__(self) -> None:
        # Reentrant: an update function may read the store it is updating.
        self.lock = threading.RLock()
        self.pods: dict[str, _Stored] = {}
        self.runtimes: dict[str, _Stored] = {}
        self.leases: dict[str, MemoryHostingLease] = {}


_NAMED: dict[str, _State] = {}
_NAMED_LOCK = threading.Lock()


class _MemoryLockedPod(LockedPod):
    def __init__(self, state: _State, name: str) -> None:
        self.name = name
        self._state = state

    def read(self) -> PodRecord | None:
        stored = self._state.pods.get(self.name)
        return None if stored is None else load_pod_record(self.name, stored.text)

    def write(self, record: PodRecord) -> None:
        try:
            text = encode_pod_record(record)
        except RecordFormatError as exc:
            raise InvalidRecord(str(exc)) from exc
        self._state.pods[self.name] = _Stored(text, utc_now())

    def delete(self) -> int:
        stored = self._state.pods.pop(self.name, None)
        return 0 if stored is None else len(stored.text.encode())

    def size(self) -> int:
        stored = self._state.pods.get(self.name)
        return 0 if stored is None else len(stored.text.encode())

    def written_at(self) -> datetime | None:
        stored = self._state.pods.get(self.name)
        return None if stored is None else stored.written_at


class MemoryHostingLease(HostingLease):
    """Live while open; registered in the store's shared state."""

    def __init__(self, store: MemoryPodStore, runtime_id: str) -> None:
        super().__init__(store, runtime_id)
        self._state = store.state
        with self._state.lock:
            if runtime_id in self._state.leases:
                raise RuntimeAlreadyHosted(runtime_id)
            self._state.leases[runtime_id] = self

    @property
    def hint(self) -> str:
        return f"{self.store.url}#runtime={self.runtime_id}"

    def _close(self) -> None:
        with self._state.lock:
            if self._state.leases.get(self.runtime_id) is self:
                del self._state.leases[self.runtime_id]


class MemoryPodStore(PodStore):
    def __init__(self, state: _State | None = None, *, url: str = "memory:") -> None:
        self.state = state or _State()
        self.url = url

    def __repr__(self) -> str:
        return f"MemoryPodStore(url={self.url!r})"

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[LockedPod]:
        validate_pod_name(name)
        with self.state.lock:
            yield _MemoryLockedPod(self.state, name)

    def read(self, name: str) -> PodRecord | None:
        validate_pod_name(name)
        with self.state.lock:
            stored = self.state.pods.get(name)
        return None if stored is None else load_pod_record(name, stored.text)

    def list_pods(self) -> builtins.list[PodListing]:
        with self.state.lock:
            items = sorted(self.state.pods.items())
        listings = []
        for name, stored in items:
            try:
                listings.append(PodListing(name, record=load_pod_record(name, stored.text)))
            except CorruptPodRecord as exc:
                listings.append(PodListing(name, error=exc))
        return listings

    def write_raw(self, name: str, text: str) -> None:
        """Store ``text`` as the record of ``name`` unchecked (to test corruption handling)."""
        validate_pod_name(name)
        with self.state.lock:
            self.state.pods[name] = _Stored(text, utc_now())

    def write_raw_runtime(self, runtime_id: str, text: str) -> None:
        validate_runtime_id(runtime_id)
        with self.state.lock:
            self.state.runtimes[runtime_id] = _Stored(text, utc_now())

    # ---- runtime records ----

    def write_runtime(self, record: RuntimeRecord) -> RuntimeRecord:
        validate_runtime_id(record.runtime_id)
        if record.created_at is None:
            record = attrs.evolve(record, created_at=utc_now())
        try:
            text = encode_runtime_record(record)
        except RecordFormatError as exc:
            raise InvalidRecord(str(exc)) from exc
        with self.state.lock:
            self.state.runtimes[record.runtime_id] = _Stored(text, utc_now())
        return record

    def read_runtime(self, runtime_id: str) -> RuntimeRecord | None:
        validate_runtime_id(runtime_id)
        with self.state.lock:
            stored = self.state.runtimes.get(runtime_id)
        return None if stored is None else load_runtime_record(runtime_id, stored.text)

    def list_runtimes(self) -> builtins.list[RuntimeListing]:
        with self.state.lock:
            items = sorted(self.state.runtimes.items())
        listings = []
        for runtime_id, stored in items:
            try:
                record = load_runtime_record(runtime_id, stored.text)
                listings.append(RuntimeListing(runtime_id, record=record))
            except CorruptRuntimeRecord as exc:
                listings.append(RuntimeListing(runtime_id, error=exc))
        return listings

    def delete_runtime(self, runtime_id: str) -> bool:
        validate_runtime_id(runtime_id)
        with self.state.lock:
            return self.state.runtimes.pop(runtime_id, None) is not None

    # ---- liveness ----

    def host(self, runtime_id: str) -> HostingLease:
        validate_runtime_id(runtime_id)
        return MemoryHostingLease(self, runtime_id)

    def probe_runtime(self, runtime_id: str) -> Liveness:
        validate_runtime_id(runtime_id)
        with self.state.lock:
            lease = self.state.leases.get(runtime_id)
        if lease is not None and not lease.closed:
            return Liveness(
                LivenessState.LIVE,
                f"runtime {safe_repr(runtime_id)} is live",
                runtime_id=runtime_id,
                hint=lease.hint,
            )
        return Liveness(
            LivenessState.STOPPED,
            f"runtime {safe_repr(runtime_id)} is not running (no open lease)",
            runtime_id=runtime_id,
        )

    def probe_all_runtimes(self) -> builtins.list[Liveness]:
        with self.state.lock:
            ids = sorted(self.state.leases)
        return [self.probe_runtime(runtime_id) for runtime_id in ids]


def open_memory_pod_store(url: str) -> MemoryPodStore:
    """``memory:`` is a fresh store; ``memory://NAME`` is shared by every open of NAME."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "memory":
        raise StoreUrlError(f"not a memory store URL: {url!r}")
    if parsed.query or parsed.fragment or parsed.path not in ("", "/"):
        raise StoreUrlError(f"memory store URL {url!r} must be memory: or memory://NAME")
    if not parsed.netloc:
        if url != "memory:":
            raise StoreUrlError(f"memory store URL {url!r} must be memory: or memory://NAME")
        return MemoryPodStore(url=url)
    with _NAMED_LOCK:
        state = _NAMED.setdefault(parsed.netloc, _State())
    return MemoryPodStore(state, url=url)
