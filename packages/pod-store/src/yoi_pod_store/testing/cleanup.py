"""The cleanup primitive: ``delete_if_stopped`` probes afresh under the lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from yoi_pod_store.contract import DeleteResult, HostingLease, PodStore
from yoi_pod_store.model import (
    PodRecord,
    utc_now,
)
from yoi_pod_store.testing.fixtures import (
    BackendFixtures,
)


class CleanupSpec(BackendFixtures):
    """The cleanup primitive: ``delete_if_stopped`` probes afresh under the lock."""

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

    def test_a_pod_active_exactly_at_the_cutoff_is_kept(self, store: PodStore) -> None:
        store.write(PodRecord("alpha"))
        activity = store.last_activity("alpha")
        assert activity is not None
        outcome = store.delete_if_stopped("alpha", last_activity_before=activity)
        assert outcome.result is DeleteResult.KEPT_NEWER and outcome.last_activity == activity
        assert store.read("alpha") is not None
