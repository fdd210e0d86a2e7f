"""Read-modify-write under the per-name lock, and the helpers built on it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest

from yoi_pod_store.contract import PodStore
from yoi_pod_store.model import (
    ActivePointer,
    Permission,
    PodRecord,
    ScopeGrant,
    SpawnedChild,
    utc_now,
)
from yoi_pod_store.testing.fixtures import (
    SESSION_A,
    SESSION_B,
    BackendFixtures,
    full_record,
)


class UpdatesSpec(BackendFixtures):
    """Read-modify-write under the per-name lock, and the helpers built on it."""

    def test_update_creates_when_missing_and_forces_the_name(self, store: PodStore) -> None:
        seen: list[PodRecord | None] = []

        def fn(current: PodRecord | None) -> PodRecord:
            seen.append(current)
            return PodRecord("some-other-name", workspace_root="/w")

        result = store.update("alpha", fn)
        assert seen == [None]
        assert result is not None and result.pod_name == "alpha"
        assert store.read("alpha") == result

    def test_update_returning_none_writes_nothing(self, store: PodStore) -> None:
        assert store.update("alpha", lambda current: None) is None
        assert store.read("alpha") is None

    def test_update_exception_changes_nothing(self, store: PodStore) -> None:
        store.write(PodRecord("alpha", workspace_root="/keep"))

        def fail(current: PodRecord | None) -> PodRecord:
            raise RuntimeError("refused by caller")

        with pytest.raises(RuntimeError, match="refused by caller"):
            store.update("alpha", fail)
        record = store.read("alpha")
        assert record is not None and record.workspace_root == "/keep"

    def test_update_keeps_created_at(self, store: PodStore) -> None:
        first = store.write(PodRecord("alpha"))
        updated = store.update(
            "alpha", lambda c: attrs.evolve(c or PodRecord("alpha"), created_at=None)
        )
        assert updated is not None and updated.created_at == first.created_at

    def test_concurrent_updates_in_threads_lose_nothing(
        self, store: PodStore, reopen: Callable[[], PodStore]
    ) -> None:
        store.write(PodRecord("counter", resolved_manifest_snapshot=0))
        handles = [store, reopen()]

        def bump(handle: PodStore) -> None:
            for _ in range(50):
                handle.update(
                    "counter",
                    lambda c: attrs.evolve(
                        c or PodRecord("counter"),
                        resolved_manifest_snapshot=(c.resolved_manifest_snapshot if c else 0) + 1,
                    ),
                )

        threads = [threading.Thread(target=bump, args=(handles[i % 2],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        record = store.read("counter")
        assert record is not None and record.resolved_manifest_snapshot == 200

    def test_set_active_keeps_children_and_peers(self, store: PodStore) -> None:
        store.write(full_record("alpha"))
        store.add_peer("alpha", "beta")
        store.set_active("alpha", ActivePointer(SESSION_B), resolved_manifest_snapshot={"v": 2})
        record = store.read("alpha")
        assert record is not None
        assert record.active == ActivePointer(SESSION_B)
        assert record.resolved_manifest_snapshot == {"v": 2}
        assert record.workspace_root == "/work/space"
        assert record.peer_names == ("beta",)
        assert [c.pod_name for c in record.spawned_children] == ["child-1"]

    def test_set_active_creates_a_pending_record(self, store: PodStore) -> None:
        record = store.set_active("alpha", ActivePointer(SESSION_A), workspace_root="/w")
        assert record.active is not None and record.active.pending
        assert store.read("alpha") == record

    def test_peers_are_sorted_deduplicated_and_removable(self, store: PodStore) -> None:
        store.add_peer("alpha", "zeta")
        store.add_peer("alpha", "beta")
        store.add_peer("alpha", "zeta")
        record = store.read("alpha")
        assert record is not None and record.peer_names == ("beta", "zeta")
        store.remove_peer("alpha", "zeta")
        store.remove_peer("alpha", "absent")
        record = store.read("alpha")
        assert record is not None and record.peer_names == ("beta",)
        store.set_peers("alpha", ["m", "c", "m"])
        record = store.read("alpha")
        assert record is not None and record.peer_names == ("c", "m")
        assert store.remove_peer("nobody", "x") is None
        assert store.read("nobody") is None

    def test_reclaim_moves_children_to_the_audit_list(self, store: PodStore) -> None:
        grant = (ScopeGrant("/src", Permission.READ),)
        store.set_spawned_children(
            "parent", [SpawnedChild("c1", scope_delegated=grant), SpawnedChild("c2")]
        )
        store.reclaim_spawned_children("parent", ["c1", "not-a-child"])
        record = store.read("parent")
        assert record is not None
        assert [c.pod_name for c in record.spawned_children] == ["c2"]
        assert [(c.pod_name, c.scope_delegated) for c in record.reclaimed_children] == [
            ("c1", grant)
        ]

    def test_last_activity_is_latest_of_record_and_write_time(self, store: PodStore) -> None:
        assert store.last_activity("alpha") is None
        before = utc_now() - timedelta(seconds=2)
        store.write(PodRecord("alpha", last_activity_at=utc_now() - timedelta(days=3)))
        activity = store.last_activity("alpha")
        assert activity is not None and activity >= before
        future = utc_now() + timedelta(days=1)
        store.write(PodRecord("alpha", last_activity_at=future))
        assert store.last_activity("alpha") == future
