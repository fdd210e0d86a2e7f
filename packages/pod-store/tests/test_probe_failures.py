"""A store that cannot be asked makes liveness uncertain, never stopped."""

from __future__ import annotations

from yoi_pod_store.backends.memory import MemoryPodStore
from yoi_pod_store.errors import PodStoreError
from yoi_pod_store.model import PodRecord


class _UnreachableStore(MemoryPodStore):
    """A memory store whose reads fail the way a network backend's do when its server is gone."""

    def read(self, name: str) -> PodRecord | None:
        raise PodStoreError("connection to the store was lost")


def test_probe_of_an_unreadable_store_is_uncertain() -> None:
    store = _UnreachableStore()
    liveness = store.probe("alpha")
    assert liveness.uncertain
    assert "connection to the store was lost" in liveness.reason
