"""Conformance kit: the Pod store contract as importable pytest test classes.

A backend's test module subclasses :class:`PodStoreContract` and provides a ``store`` fixture
(plus, optionally, ``reopen`` and the raw writers that let the kit plant corrupt records)::

    import pytest
    from yoi_pod_store.testing import PodStoreContract

    class TestMyBackend(PodStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return open_my_store(tmp_path)

Every built-in backend passes this kit; a third-party backend must too. The kit needs
``pytest`` (install ``yoi-pod-store[testing]``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import attrs
import pytest

from yoi_pod_store.contract import DeleteResult, HostingLease, LivenessState, PodStore
from yoi_pod_store.errors import (
    CorruptPodRecord,
    CorruptRuntimeRecord,
    InvalidPodName,
    InvalidRecord,
    InvalidRuntimeId,
    LeaseClosed,
    PodHostedElsewhere,
    RuntimeAlreadyHosted,
)
from yoi_pod_store.model import (
    ActivePointer,
    Permission,
    PodRecord,
    RuntimeRecord,
    ScopeGrant,
    SpawnedChild,
    WorkerStatus,
    utc_now,
)
from yoi_pod_store.references import referenced_sessions

__all__ = ["BAD_NAMES", "SEGMENT_A", "SESSION_A", "SESSION_B", "PodStoreContract"]

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

RawWriter = Callable[[str, str], None]


def _full_record(name: str) -> PodRecord:
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


class PodStoreContract:
    """The behaviour every Pod store backend must show."""

    # ---- fixtures a backend provides ------------------------------------------------------

    @pytest.fixture
    def store(self) -> PodStore:
        raise NotImplementedError("a backend's test class must override the `store` fixture")

    @pytest.fixture
    def reopen(self, store: PodStore) -> Callable[[], PodStore]:
        """Open a second handle on the same storage (default: the same object)."""
        return lambda: store

    @pytest.fixture
    def write_raw_pod(self) -> RawWriter:
        """Store raw text as a Pod record, bypassing validation (default: skip those tests)."""
        pytest.skip("backend cannot plant raw Pod records")

    @pytest.fixture
    def write_raw_runtime(self) -> RawWriter:
        pytest.skip("backend cannot plant raw runtime records")

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

    # ---- records --------------------------------------------------------------------------

    def test_write_then_read_round_trips_every_field(
        self, store: PodStore, reopen: Callable[[], PodStore]
    ) -> None:
        record = _full_record("alpha")
        assert store.write(record) == record
        assert reopen().read("alpha") == record

    def test_read_missing_is_none(self, store: PodStore) -> None:
        assert store.read("nobody") is None

    def test_write_stamps_created_at_when_unset(self, store: PodStore) -> None:
        before = utc_now()
        stored = store.write(PodRecord("alpha"))
        assert stored.created_at is not None and stored.created_at >= before
        assert store.read("alpha") == stored

    def test_write_replaces_and_keeps_created_at(self, store: PodStore) -> None:
        first = store.write(_full_record("alpha"))
        store.write(PodRecord("alpha", workspace_root="/other"))
        record = store.read("alpha")
        assert record is not None
        assert record.workspace_root == "/other" and record.active is None
        assert record.created_at == first.created_at

    def test_write_replaces_a_corrupt_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "{{{")
        store.write(PodRecord("broken", workspace_root="/fixed"))
        record = store.read("broken")
        assert record is not None and record.workspace_root == "/fixed"

    def test_record_that_json_cannot_hold_is_rejected_and_changes_nothing(
        self, store: PodStore
    ) -> None:
        store.write(PodRecord("alpha", workspace_root="/keep"))
        with pytest.raises(InvalidRecord):
            store.write(PodRecord("alpha", resolved_manifest_snapshot={"x": float("nan")}))
        record = store.read("alpha")
        assert record is not None and record.workspace_root == "/keep"

    def test_list_is_sorted_and_complete(self, store: PodStore) -> None:
        for name in ("delta", "alpha", "Charlie", "bravo-2", "bravo.1"):
            store.write(PodRecord(name))
        listed = store.list_pods()
        assert [item.name for item in listed] == sorted(
            ["delta", "alpha", "Charlie", "bravo-2", "bravo.1"]
        )
        assert all(item.ok and item.record and item.record.pod_name == item.name for item in listed)

    def test_list_of_empty_store_is_empty(self, store: PodStore) -> None:
        assert store.list_pods() == []

    def test_delete_removes_and_missing_is_a_no_op(self, store: PodStore) -> None:
        store.write(PodRecord("alpha"))
        assert store.delete("alpha") is True
        assert store.read("alpha") is None
        assert store.delete("alpha") is False
        assert store.list_pods() == []

    # ---- corrupt records ------------------------------------------------------------------

    def test_corrupt_record_reads_as_typed_error_without_path(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", '{"pod_name": "broken", ')
        with pytest.raises(CorruptPodRecord) as caught:
            store.read("broken")
        assert caught.value.name == "broken"
        assert caught.value.detail
        assert "/" not in str(caught.value).replace("'broken'", "")

    def test_record_naming_another_pod_is_corrupt(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("alpha", '{"schema_version": 1, "pod_name": "beta"}')
        with pytest.raises(CorruptPodRecord, match="beta"):
            store.read("alpha")

    def test_list_reports_corrupt_records_and_keeps_going(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        store.write(PodRecord("alpha"))
        write_raw_pod("broken", "not json")
        store.write(PodRecord("zulu"))
        listed = store.list_pods()
        assert [item.name for item in listed] == ["alpha", "broken", "zulu"]
        assert listed[1].record is None and isinstance(listed[1].error, CorruptPodRecord)
        assert listed[0].ok and listed[2].ok

    def test_delete_works_on_corrupt_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "\x00\x01garbage")
        assert store.delete("broken") is True
        assert store.read("broken") is None

    def test_update_refuses_to_overwrite_corrupt_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "[1, 2]")
        with pytest.raises(CorruptPodRecord):
            store.update("broken", lambda current: PodRecord("broken"))
        with pytest.raises(CorruptPodRecord):
            store.read("broken")

    def test_newer_schema_version_is_reported_not_rewritten(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("future", '{"schema_version": 999, "worker_name": "future"}')
        with pytest.raises(CorruptPodRecord, match="newer"):
            store.read("future")

    def test_unversioned_upstream_record_still_reads(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod(
            "legacy",
            '{\n  "pod_name": "legacy",\n  "active": {"session_id": "' + SESSION_A + '"},\n'
            '  "workspace_root": "/w",\n  "peers": [{"pod_name": "other"}],\n'
            '  "resolved_manifest_snapshot": {"a": [1]}\n}\n',
        )
        record = store.read("legacy")
        assert record is not None
        assert record.active == ActivePointer(SESSION_A) and record.active.pending
        assert record.peer_names == ("other",)
        assert record.resolved_manifest_snapshot == {"a": [1]}

    def test_unknown_keys_survive_read_modify_write(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("alpha", '{"schema_version": 1, "pod_name": "alpha", "added_later": [1]}')
        store.add_peer("alpha", "beta")
        record = store.read("alpha")
        assert record is not None
        assert record.extra == {"added_later": [1]} and record.peer_names == ("beta",)

    # ---- read-modify-write ----------------------------------------------------------------

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
        store.write(_full_record("alpha"))
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

    # ---- names ----------------------------------------------------------------------------

    @pytest.mark.parametrize("bad", BAD_NAMES)
    def test_every_entry_point_rejects_bad_names(self, store: PodStore, bad: str) -> None:
        smuggled = PodRecord("ok")
        object.__setattr__(smuggled, "pod_name", bad)  # as if built without validation
        calls: list[Callable[[], object]] = [
            lambda: store.read(bad),
            lambda: store.write(smuggled),
            lambda: store.delete(bad),
            lambda: store.update(bad, lambda c: c),
            lambda: store.set_active(bad, None),
            lambda: store.set_peers(bad, []),
            lambda: store.set_peers("ok", [bad]),
            lambda: store.add_peer(bad, "ok"),
            lambda: store.add_peer("ok", bad),
            lambda: store.remove_peer(bad, "ok"),
            lambda: store.set_spawned_children(bad, []),
            lambda: store.reclaim_spawned_children(bad, []),
            lambda: store.last_activity(bad),
            lambda: store.probe(bad),
            lambda: store.delete_if_stopped(bad),
        ]
        for call in calls:
            with pytest.raises(InvalidPodName):
                call()
        with pytest.raises(InvalidPodName):
            PodRecord(bad)
        for runtime_call in (
            lambda: store.host(bad),
            lambda: store.probe_runtime(bad),
            lambda: store.read_runtime(bad),
            lambda: store.delete_runtime(bad),
        ):
            with pytest.raises(InvalidRuntimeId):
                runtime_call()
        assert store.list_pods() == []
        assert store.list_runtimes() == []

    # ---- runtime records and references ---------------------------------------------------

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

    def test_corrupt_runtime_record_is_listed_and_deletable(
        self, store: PodStore, write_raw_runtime: RawWriter
    ) -> None:
        write_raw_runtime("rt-x", "{oops")
        with pytest.raises(CorruptRuntimeRecord):
            store.read_runtime("rt-x")
        [listing] = store.list_runtimes()
        assert listing.error is not None
        assert store.delete_runtime("rt-x") is True
        assert store.list_runtimes() == []

    def test_referenced_sessions_counts_pods_and_runtimes(self, store: PodStore) -> None:
        store.set_active("alpha", ActivePointer(SESSION_A))  # pending still references
        store.set_active("beta", ActivePointer(SESSION_A, SEGMENT_A))
        store.write(PodRecord("idle"))
        store.write_runtime(RuntimeRecord("rt-1", events_session_id=SESSION_B))
        refs = referenced_sessions(store)
        assert refs.complete
        assert refs.session_ids == {SESSION_A, SESSION_B}
        assert refs.referrers(SESSION_A) == ("pod alpha", "pod beta")
        assert refs.referrers(SESSION_B) == ("runtime rt-1",)

    def test_referenced_sessions_reports_corrupt_records(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        store.set_active("alpha", ActivePointer(SESSION_A))
        write_raw_pod("broken", "{")
        refs = referenced_sessions(store)
        assert not refs.complete
        assert [error.name for error in refs.corrupt] == ["broken"]
        assert SESSION_A in refs

    # ---- liveness -------------------------------------------------------------------------

    def test_missing_and_unhosted_pods_are_stopped(self, store: PodStore) -> None:
        assert store.probe("nobody").state is LivenessState.STOPPED
        store.write(PodRecord("alpha"))
        assert store.probe("alpha").state is LivenessState.STOPPED

    def test_claimed_pod_is_live_while_the_lease_is_open(
        self, store: PodStore, reopen: Callable[[], PodStore]
    ) -> None:
        with store.host("rt-1") as lease:
            record = lease.claim("alpha")
            assert record.hosting_runtime_id == "rt-1"
            assert record.liveness_hint == lease.hint
            probe = reopen().probe("alpha")
            assert probe.state is LivenessState.LIVE, probe.reason
            assert probe.runtime_id == "rt-1" and probe.reason
        assert lease.closed
        probe = reopen().probe("alpha")
        assert probe.state is LivenessState.STOPPED, probe.reason

    def test_claim_runs_prepare_under_the_lock_and_aborts_cleanly(
        self, store: PodStore, hosted: Callable[[str], HostingLease]
    ) -> None:
        lease = hosted("rt-1")
        store.write(PodRecord("alpha", workspace_root="/keep"))

        def refuse(current: PodRecord | None) -> PodRecord:
            raise RuntimeError("restorable metadata exists")

        with pytest.raises(RuntimeError, match="restorable"):
            lease.claim("alpha", refuse)
        record = store.read("alpha")
        assert record is not None and record.hosting_runtime_id is None
        claimed = lease.claim(
            "alpha",
            lambda c: attrs.evolve(c or PodRecord("alpha"), worker_status=WorkerStatus.RUNNING),
        )
        assert claimed.worker_status is WorkerStatus.RUNNING
        assert claimed.workspace_root == "/keep"

    def test_same_runtime_cannot_be_hosted_twice(
        self, store: PodStore, reopen: Callable[[], PodStore], hosted: Callable[[str], HostingLease]
    ) -> None:
        hosted("rt-1")
        with pytest.raises(RuntimeAlreadyHosted):
            reopen().host("rt-1")

    def test_runtime_id_can_be_hosted_again_after_close(self, store: PodStore) -> None:
        store.host("rt-1").close()
        with store.host("rt-1") as lease:
            lease.claim("alpha")
            assert store.probe("alpha").live

    def test_claim_refuses_a_pod_hosted_by_another_live_runtime(
        self, store: PodStore, hosted: Callable[[str], HostingLease]
    ) -> None:
        first = hosted("rt-1")
        second = hosted("rt-2")
        first.claim("alpha")
        with pytest.raises(PodHostedElsewhere) as caught:
            second.claim("alpha")
        assert caught.value.runtime_id == "rt-1"
        first.close()
        assert second.claim("alpha").hosting_runtime_id == "rt-2"

    def test_closed_lease_cannot_claim(self, store: PodStore) -> None:
        lease = store.host("rt-1")
        lease.close()
        lease.close()  # closing twice is harmless
        with pytest.raises(LeaseClosed):
            lease.claim("alpha")
        assert store.read("alpha") is None

    def test_release_clears_only_own_hosting(
        self, store: PodStore, hosted: Callable[[str], HostingLease]
    ) -> None:
        lease = hosted("rt-1")
        other = hosted("rt-2")
        lease.claim("alpha")
        assert other.release("alpha") is not None
        record = lease.release("alpha")
        assert record is not None and record.hosting_runtime_id is None
        assert store.probe("alpha").stopped

    def test_corrupt_record_is_uncertain_while_any_runtime_is_live(
        self, store: PodStore, write_raw_pod: RawWriter, hosted: Callable[[str], HostingLease]
    ) -> None:
        write_raw_pod("broken", "{")
        assert store.probe("broken").state is LivenessState.STOPPED
        hosted("rt-1")
        probe = store.probe("broken")
        assert probe.state is LivenessState.UNCERTAIN and "rt-1" in probe.reason
        outcome = store.delete_if_stopped("broken")
        assert outcome.result is DeleteResult.REFUSED and outcome.corrupt is not None
        with pytest.raises(CorruptPodRecord):
            store.read("broken")

    # ---- the cleanup primitive ------------------------------------------------------------

    def test_delete_if_stopped_refuses_a_live_pod(
        self, store: PodStore, hosted: Callable[[str], HostingLease]
    ) -> None:
        hosted("rt-1").claim("alpha")
        outcome = store.delete_if_stopped("alpha")
        assert outcome.result is DeleteResult.REFUSED and not outcome.deleted
        assert outcome.liveness is not None and outcome.liveness.live
        assert store.read("alpha") is not None

    def test_delete_if_stopped_deletes_a_stopped_pod(self, store: PodStore) -> None:
        with store.host("rt-1") as lease:
            lease.claim("alpha")
        outcome = store.delete_if_stopped("alpha")
        assert outcome.result is DeleteResult.DELETED and outcome.deleted
        assert outcome.record is not None and outcome.record.hosting_runtime_id == "rt-1"
        assert outcome.liveness is not None and outcome.liveness.stopped
        assert store.read("alpha") is None
        assert store.delete_if_stopped("alpha").result is DeleteResult.MISSING

    def test_delete_if_stopped_dry_run_and_age_cutoff(self, store: PodStore) -> None:
        store.write(PodRecord("alpha"))
        dry = store.delete_if_stopped("alpha", dry_run=True)
        assert dry.result is DeleteResult.WOULD_DELETE and store.read("alpha") is not None
        newer = store.delete_if_stopped("alpha", last_activity_before=utc_now() - timedelta(days=1))
        assert newer.result is DeleteResult.KEPT_NEWER and store.read("alpha") is not None
        old = store.delete_if_stopped("alpha", last_activity_before=utc_now() + timedelta(days=1))
        assert old.result is DeleteResult.DELETED and store.read("alpha") is None
        # A dry run reports the bytes the real delete then frees.
        assert dry.reclaimed_bytes == old.reclaimed_bytes > 0

    def test_delete_if_stopped_deletes_a_corrupt_stopped_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "garbage")
        outcome = store.delete_if_stopped("broken")
        assert outcome.result is DeleteResult.DELETED
        assert outcome.corrupt is not None and outcome.corrupt.name == "broken"
        assert outcome.reclaimed_bytes >= 0
        assert store.list_pods() == []
