"""Records the store holds but cannot read: reported wherever they matter, never skipped.

Every backend must be able to hold such a record (its ``write_raw_pod`` and ``write_raw_runtime``
fixtures plant one), because skipping one silently is how a cleanup deletes what a Pod or a
Runtime still needs: an unreadable record may reference any session and name any host.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from yoi_pod_store.contract import DeleteResult, HostingLease, LivenessState, PodStore
from yoi_pod_store.errors import CorruptPodRecord, CorruptRuntimeRecord
from yoi_pod_store.model import ActivePointer, PodRecord, RuntimeRecord, utc_now
from yoi_pod_store.references import referenced_sessions
from yoi_pod_store.testing.fixtures import SESSION_A, SESSION_B, BackendFixtures, RawWriter


class UnreadableRecordsSpec(BackendFixtures):
    """Records the store holds but cannot read: reported wherever they matter, never skipped."""

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

    def test_referenced_sessions_reports_corrupt_records(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        store.set_active("alpha", ActivePointer(SESSION_A))
        write_raw_pod("broken", "{")
        refs = referenced_sessions(store)
        assert not refs.complete
        assert [error.name for error in refs.corrupt] == ["broken"]
        assert SESSION_A in refs

    def test_an_unreadable_runtime_record_makes_references_incomplete(
        self, store: PodStore, write_raw_runtime: RawWriter
    ) -> None:
        # The Runtime it belonged to may need its events session to reopen.
        store.set_active("alpha", ActivePointer(SESSION_A))
        store.write_runtime(RuntimeRecord("rt-good", events_session_id=SESSION_B))
        write_raw_runtime("rt-broken", "{oops")
        refs = referenced_sessions(store)
        assert not refs.complete
        assert [(type(error), error.name) for error in refs.corrupt] == [
            (CorruptRuntimeRecord, "rt-broken")
        ]
        assert refs.session_ids == {SESSION_A, SESSION_B}

    def test_corrupt_record_is_uncertain_while_any_runtime_is_live(
        self, store: PodStore, write_raw_pod: RawWriter, hosted: Callable[[str], HostingLease]
    ) -> None:
        write_raw_pod("broken", "{")
        assert store.probe("broken").state is LivenessState.STOPPED
        hosted("rt-1")
        probe = store.probe("broken")
        assert probe.state is LivenessState.UNCERTAIN
        assert probe.reason.endswith("runtimes that may host it are live or uncertain: 'rt-1'")
        outcome = store.delete_if_stopped("broken")
        assert outcome.result is DeleteResult.REFUSED and outcome.corrupt is not None
        with pytest.raises(CorruptPodRecord):
            store.read("broken")

    def test_delete_if_stopped_deletes_a_corrupt_stopped_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "garbage")
        outcome = store.delete_if_stopped("broken")
        assert outcome.result is DeleteResult.DELETED
        assert outcome.corrupt is not None and outcome.corrupt.name == "broken"
        assert outcome.reclaimed_bytes >= 0
        assert store.list_pods() == []

    def test_last_activity_of_a_corrupt_record_is_its_write_time(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        # Age-based cleanup asks every listed Pod for its activity, corrupt ones included.
        before = utc_now() - timedelta(minutes=5)
        write_raw_pod("broken", "{")
        activity = store.last_activity("broken")
        assert activity is not None and before < activity < utc_now() + timedelta(minutes=5)
