"""The built-in ``fs`` and ``memory`` backends, registered like any third-party plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yoi_session_store.plugins import SessionStoreBackend, hookimpl

if TYPE_CHECKING:
    from yoi_session_store.contract import SessionStore


def _open_fs(url: str) -> SessionStore:
    from yoi_session_store.backends.fs import open_fs_session_store

    return open_fs_session_store(url)


def _open_memory(url: str) -> SessionStore:
    from yoi_session_store.backends.memory import open_memory_session_store

    return open_memory_session_store(url)


@hookimpl
def yoi_session_store_backends() -> list[SessionStoreBackend]:
    return [
        SessionStoreBackend("fs", "Session logs under the data dir (default)", _open_fs),
        SessionStoreBackend("memory", "Session logs in this process only", _open_memory),
    ]
