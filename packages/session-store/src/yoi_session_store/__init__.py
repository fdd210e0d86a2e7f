"""yoi session store: durable append-only session logs with segments, lineage, replay and forks.

Importing this package is cheap; the model, contract and backends load from their modules
(``yoi_session_store.model``, ``.contract``, ``.history``, ``.backends.fs``, ``.backends.memory``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yoi_session_store.contract import SessionStore

__all__ = ["open_session_store"]


def open_session_store(url: str | None = None) -> SessionStore:
    """Open the session store a URL names (see :func:`.plugins.open_session_store`)."""
    from yoi_session_store.plugins import open_session_store as _open

    return _open(url)
