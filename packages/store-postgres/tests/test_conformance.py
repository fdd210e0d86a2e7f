"""Both stores pass their conformance kits on PostgreSQL, opened through the entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from yoi_pod_store.contract import PodStore
from yoi_pod_store.plugins import open_pod_store
from yoi_pod_store.testing import PodStoreContract
from yoi_session_store.contract import SessionStore
from yoi_session_store.plugins import open_session_store
from yoi_session_store.testing import SessionStoreConformance
from yoi_store_postgres.pod_store import PostgresPodStore
from yoi_store_postgres.session_store import PostgresSessionStore

Sql = Callable[..., list[tuple[Any, ...]]]


class TestPostgresPodStore(PodStoreContract):
    @pytest.fixture
    def store(self, store_url: str, closing: Callable[[PodStore], PodStore]) -> PodStore:
        store = closing(open_pod_store(store_url))
        assert isinstance(store, PostgresPodStore)
        return store

    @pytest.fixture
    def reopen(
        self, store: PodStore, closing: Callable[[PodStore], PodStore]
    ) -> Callable[[], PodStore]:
        return lambda: closing(open_pod_store(store.url))

    @pytest.fixture
    def write_raw_pod(self, sql: Sql) -> Callable[[str, str], None]:
        def write(name: str, text: str) -> None:
            sql(
                "INSERT INTO yoi_pods (name, body) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body",
                (name, text.encode()),
            )

        return write

    @pytest.fixture
    def write_raw_runtime(self, sql: Sql) -> Callable[[str, str], None]:
        def write(runtime_id: str, text: str) -> None:
            sql(
                "INSERT INTO yoi_runtimes (runtime_id, body) VALUES (%s, %s) "
                "ON CONFLICT (runtime_id) DO UPDATE SET body = EXCLUDED.body",
                (runtime_id, text.encode()),
            )

        return write


class TestPostgresSessionStore(SessionStoreConformance):
    @pytest.fixture
    def store(self, store_url: str) -> Iterator[SessionStore]:
        store = open_session_store(store_url)
        assert isinstance(store, PostgresSessionStore)
        yield store
        store.close()
