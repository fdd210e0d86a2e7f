"""A store that cannot be asked makes liveness uncertain, never stopped."""

from __future__ import annotations

import errno
import fcntl
from pathlib import Path
from typing import Any

import pytest
from yoi_pod_store.backends.fs import FsPodStore
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


def test_a_lock_that_cannot_be_tested_is_uncertain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # flock fails this way on a file system without lock support (NFS without its lock
    # manager), which this machine does not have: only the prober's test of the lock fails.
    store = FsPodStore(tmp_path / "data", tmp_path / "run")
    real_flock = fcntl.flock

    def flock(fd: Any, operation: int) -> None:
        if operation == fcntl.LOCK_SH | fcntl.LOCK_NB:
            raise OSError(errno.ENOLCK, "No locks available")
        real_flock(fd, operation)

    with store.host("rt-1") as lease:
        lease.claim("alpha")
        monkeypatch.setattr(fcntl, "flock", flock)
        liveness = store.probe("alpha")
    assert liveness.uncertain
    assert "cannot test its lock (ENOLCK: No locks available)" in liveness.reason
