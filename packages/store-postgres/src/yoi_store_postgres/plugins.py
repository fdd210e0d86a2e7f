"""Entry-point module: registers the ``postgresql`` (and ``postgres``) backends of both stores.

Listed in the ``yoi.pod_store`` and ``yoi.session_store`` entry-point groups. Importing it is
cheap: psycopg and the backends load only when a store is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yoi_pod_store.plugins import PodStoreBackend
from yoi_pod_store.plugins import hookimpl as pod_store_hookimpl
from yoi_session_store.plugins import SessionStoreBackend
from yoi_session_store.plugins import hookimpl as session_store_hookimpl

if TYPE_CHECKING:
    from yoi_pod_store.contract import PodStore
    from yoi_session_store.contract import SessionStore

SCHEMES = ("postgresql", "postgres")


def _open_pod_store(url: str) -> PodStore:
    from yoi_store_postgres.pod_store import open_postgres_pod_store

    return open_postgres_pod_store(url)


def _open_session_store(url: str) -> SessionStore:
    from yoi_store_postgres.session_store import open_postgres_session_store

    return open_postgres_session_store(url)


@pod_store_hookimpl
def yoi_pod_store_backends() -> list[PodStoreBackend]:
    return [
        PodStoreBackend(
            scheme,
            "Pod metadata and hosting leases in PostgreSQL (shared by many hosts)",
            _open_pod_store,
        )
        for scheme in SCHEMES
    ]


@session_store_hookimpl
def yoi_session_store_backends() -> list[SessionStoreBackend]:
    return [
        SessionStoreBackend(
            scheme, "Session logs in PostgreSQL (shared by many hosts)", _open_session_store
        )
        for scheme in SCHEMES
    ]
