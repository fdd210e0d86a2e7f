"""What every capability of the kit shares: the backend's fixtures and sample data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from yoi_pod_store.contract import HostingLease, PodStore
from yoi_pod_store.model import (
    ActivePointer,
    Permission,
    PodRecord,
    ScopeGrant,
    SpawnedChild,
    WorkerStatus,
    utc_now,
)

SESSION_A = "0192f0a0-0000-7000-8000-00000000000a"
SESSION_B = "0192f0a0-0000-7000-8000-00000000000b"
SEGMENT_A = "0192f0a0-0000-7000-8000-0000000000a1"

#: Names every entry point must reject.
BAD_NAMES: tuple[str, ...] = (
    "",
    ".",
    "..",
    "a/b",
    "../escape",
    "-rf",
    "a b",
    "tab\there",
    "new\nline",
    "nul\x00",
    "bell\x07",
    "x" * 81,
    "caf\u00e9",
)

#: Stores raw text as the record of a name, bypassing every check (to plant corruption).
RawWriter = Callable[[str, str], None]


def full_record(name: str) -> PodRecord:
    """A record with every field set."""
    return PodRecord(
        name,
        active=ActivePointer(SESSION_A, SEGMENT_A),
        workspace_root="/work/space",
        spawned_children=(
            SpawnedChild(
                "child-1",
                socket_path="/run/child-1.sock",
                scope_delegated=(ScopeGrant("/work/space/src", Permission.WRITE, True),),
                callback_address="unix:/run/cb.sock",
            ),
        ),
        peers=(),
        resolved_manifest_snapshot={"profile": "default", "tools": ["read", "write"], "n": 1.5},
        worker_status=WorkerStatus.RUNNING,
        created_at=utc_now() - timedelta(hours=1),
        last_activity_at=utc_now(),
    )


class BackendFixtures:
    """The fixtures a backend's test class provides (``store``, ``write_raw_pod``,
    ``write_raw_runtime``) or may override (``reopen``, ``hosted``)."""

    @pytest.fixture
    def store(self) -> PodStore:
        raise NotImplementedError("a backend's test class must override the `store` fixture")

    @pytest.fixture
    def reopen(self, store: PodStore) -> Callable[[], PodStore]:
        """Open a second handle on the same storage (default: the same object)."""
        return lambda: store

    @pytest.fixture
    def write_raw_pod(self) -> RawWriter:
        """Store raw text as a Pod record, bypassing validation (every backend provides it)."""
        raise NotImplementedError(
            "a backend's test class must override the `write_raw_pod` fixture: the kit plants "
            "unreadable records, which every backend must hold and report"
        )

    @pytest.fixture
    def write_raw_runtime(self) -> RawWriter:
        """Store raw text as a runtime record, bypassing validation (every backend provides it)."""
        raise NotImplementedError(
            "a backend's test class must override the `write_raw_runtime` fixture: the kit "
            "plants unreadable records, which every backend must hold and report"
        )

    @pytest.fixture
    def hosted(self, store: PodStore) -> Iterator[Callable[[str], HostingLease]]:
        """Open leases that are closed when the test ends."""
        leases: list[HostingLease] = []

        def open_lease(runtime_id: str) -> HostingLease:
            lease = store.host(runtime_id)
            leases.append(lease)
            return lease

        yield open_lease
        for lease in leases:
            lease.close()
