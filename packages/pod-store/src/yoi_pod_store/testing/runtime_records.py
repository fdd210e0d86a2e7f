"""Runtime records, and the sessions Pods and Runtimes reference."""

from __future__ import annotations

from collections.abc import Callable

from yoi_pod_store.contract import PodStore
from yoi_pod_store.model import (
    ActivePointer,
    PodRecord,
    RuntimeRecord,
)
from yoi_pod_store.references import referenced_sessions
from yoi_pod_store.testing.fixtures import (
    SEGMENT_A,
    SESSION_A,
    SESSION_B,
    BackendFixtures,
)


class RuntimeRecordsSpec(BackendFixtures):
    """Runtime records, and the sessions Pods and Runtimes reference."""

    def test_runtime_records_round_trip_list_and_delete(
        self, store: PodStore, reopen: Callable[[], PodStore]
    ) -> None:
        record = store.write_runtime(RuntimeRecord("rt-b", "Runtime B", SESSION_B))
        store.write_runtime(RuntimeRecord("rt-a"))
        assert record.created_at is not None
        assert reopen().read_runtime("rt-b") == record
        assert store.read_runtime("rt-missing") is None
        assert [item.runtime_id for item in store.list_runtimes()] == ["rt-a", "rt-b"]
        assert store.delete_runtime("rt-b") is True
        assert store.delete_runtime("rt-b") is False
        assert [item.runtime_id for item in store.list_runtimes()] == ["rt-a"]

    def test_referenced_sessions_counts_pods_and_runtimes(self, store: PodStore) -> None:
        store.set_active("alpha", ActivePointer(SESSION_A))  # pending still references
        store.set_active("beta", ActivePointer(SESSION_A, SEGMENT_A))
        store.write(PodRecord("idle"))
        store.write_runtime(RuntimeRecord("rt-1", events_session_id=SESSION_B))
        store.write_runtime(RuntimeRecord("rt-2"))  # no events session: references nothing
        refs = referenced_sessions(store)
        assert refs.complete
        assert refs.session_ids == {SESSION_A, SESSION_B}
        assert refs.referrers(SESSION_A) == ("pod alpha", "pod beta")
        assert refs.referrers(SESSION_B) == ("runtime rt-1",)
