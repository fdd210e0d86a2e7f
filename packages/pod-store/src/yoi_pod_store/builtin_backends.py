"""The built-in ``fs`` and ``memory`` backends, registered like any third-party plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yoi_pod_store.plugins import PodStoreBackend, hookimpl

if TYPE_CHECKING:
    from yoi_pod_store.contract import PodStore


def _open_fs(url: str) -> PodStore:
    from yoi_pod_store.backends.fs import open_fs_pod_store

    return open_fs_pod_store(url)


def _open_memory(url: str) -> PodStore:
    from yoi_pod_store.backends.memory import open_memory_pod_store

    return open_memory_pod_store(url)


@hookimpl
def yoi_pod_store_backends() -> list[PodStoreBackend]:
    return [
        PodStoreBackend("fs", "Pod metadata files under the data dir (default)", _open_fs),
        PodStoreBackend("memory", "Pod metadata in this process only", _open_memory),
    ]
