"""The name rule at every entry point: nothing outside it is read or written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from yoi_pod_store.contract import PodStore
from yoi_pod_store.errors import (
    InvalidPodName,
    InvalidRuntimeId,
)
from yoi_pod_store.model import (
    PodRecord,
)
from yoi_pod_store.testing.fixtures import (
    BAD_NAMES,
    BackendFixtures,
)


class NamesSpec(BackendFixtures):
    """The name rule at every entry point: nothing outside it is read or written."""

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
