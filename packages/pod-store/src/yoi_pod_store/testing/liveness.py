"""Hosting leases and the liveness probe: live, stopped, never wrongly either."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from yoi_pod_store.contract import HostingLease, LivenessState, PodStore
from yoi_pod_store.errors import (
    LeaseClosed,
    PodHostedElsewhere,
    RuntimeAlreadyHosted,
)
from yoi_pod_store.model import (
    PodRecord,
    WorkerStatus,
)
from yoi_pod_store.testing.fixtures import (
    BackendFixtures,
)


class LivenessSpec(BackendFixtures):
    """Hosting leases and the liveness probe: live, stopped, never wrongly either."""

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
