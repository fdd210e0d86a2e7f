"""Store URLs, plugin registration, schema migrations and typed errors on open."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from pg_cluster import free_loopback_port
from yoi_pod_store.errors import PodStoreError, StoreUrlError
from yoi_pod_store.plugins import open_pod_store
from yoi_session_store.errors import InvalidStoreUrlError, SessionStoreError
from yoi_session_store.ids import new_segment_id, new_session_id
from yoi_session_store.plugins import open_session_store
from yoi_session_store.testing.samples import segment_start
from yoi_store_postgres.config import parse_url
from yoi_store_postgres.errors import DatabaseUnavailable, InvalidPostgresUrl, SchemaTooNew
from yoi_store_postgres.migrations import LATEST_VERSION
from yoi_store_postgres.pod_store import PostgresPodStore, open_postgres_pod_store
from yoi_store_postgres.session_store import PostgresSessionStore

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgresql://h/db?schema=Bad-Name", "schema"),
        ("postgresql://h/db?schema=1abc", "schema"),
        ("postgresql://h/db?lease_ttl=0.1", "lease_ttl"),
        ("postgresql://h/db?lease_ttl=soon", "lease_ttl"),
        ("postgresql://h/db?pool_size=1", "pool_size"),
        ("postgresql://h/db?pool_size=2.5", "pool_size"),
        ("postgresql://h/db?lock_timeout=0", "lock_timeout"),
        ("postgresql://h/db?schema=a&schema=b", "twice"),
        ("postgresql://h/db?no_such_libpq_option=1", "libpq"),
        ("postgresql://h/db#frag", "fragment"),
        ("postgresql:h/db", "not a PostgreSQL store URL"),
    ],
)
def test_bad_urls_are_typed_errors_of_both_stores(url: str, fragment: str) -> None:
    with pytest.raises(InvalidPostgresUrl, match=fragment) as caught:
        parse_url(url)
    assert isinstance(caught.value, StoreUrlError)
    assert isinstance(caught.value, InvalidStoreUrlError)
    with pytest.raises(StoreUrlError):
        open_pod_store(url)
    with pytest.raises(InvalidStoreUrlError):
        open_session_store(url)


def test_url_options_are_parsed_and_the_password_never_shows() -> None:
    config = parse_url(
        "postgresql://me:s3cret@db.example:5433/yoi?schema=prod&lease_ttl=30&pool_size=4"
        "&sslmode=require&lock_timeout=2"
    )
    assert (config.schema, config.lease_ttl, config.pool_size) == ("prod", 30.0, 4)
    assert config.lock_timeout == 2.0
    assert config.heartbeat_interval == 7.5 and config.lease_margin == 6.0
    assert "s3cret" not in config.display_url and "s3cret" not in repr(config)
    assert "sslmode=require" in config.conninfo and "schema" not in config.conninfo
    assert "connect_timeout=5" in config.conninfo
    with pytest.raises(InvalidPostgresUrl) as caught:
        parse_url("postgresql://me:s3cret@h/db?lease_ttl=x")
    assert "s3cret" not in str(caught.value)


def test_plugin_module_is_cheap_to_import() -> None:
    code = (
        "import sys, yoi_store_postgres.plugins as p\n"
        "heavy = [m for m in ('psycopg', 'psycopg_pool', 'yoi_store_postgres.pod_store') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from yoi_pod_store.plugins import registry\n"
        "from yoi_session_store.plugins import registry as sessions\n"
        "for r in (registry(), sessions()):\n"
        "    assert r.registered['postgresql'].distribution == 'yoi-store-postgres'\n"
        "    assert r.registered['postgres'].distribution == 'yoi-store-postgres'\n"
        "assert 'psycopg' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_both_schemes_open_the_same_data(store_url: str) -> None:
    session, segment = new_session_id(), new_segment_id()
    with open_session_store(store_url) as first:
        assert isinstance(first, PostgresSessionStore)
        first.create_segment(session, segment, [segment_start(session)])
    with open_session_store(store_url.replace("postgresql://", "postgres://", 1)) as second:
        assert second.read_entry_count(session, segment) == 1


def test_open_applies_migrations_once_and_records_them(store_url: str, sql: Sql) -> None:
    open_postgres_pod_store(store_url).close()
    open_session_store(store_url).close()
    rows = sql("SELECT version, name FROM yoi_schema_migrations ORDER BY version")
    assert [version for version, _ in rows] == list(range(1, LATEST_VERSION + 1))
    tables = {
        name
        for (name,) in sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    assert {"yoi_pods", "yoi_runtime_leases", "yoi_sessions", "yoi_entries"} <= tables


def test_concurrent_openers_of_a_fresh_schema_all_succeed(store_url: str, sql: Sql) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_one(n: int) -> None:
        barrier.wait()
        try:
            store = open_pod_store(store_url) if n % 2 else open_session_store(store_url)
            store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sql("SELECT count(*) FROM yoi_schema_migrations") == [(LATEST_VERSION,)]


def test_a_schema_from_a_newer_release_is_refused(store_url: str, sql: Sql) -> None:
    open_pod_store(store_url).close()
    sql("INSERT INTO yoi_schema_migrations (version, name) VALUES (999, 'from the future')")
    with pytest.raises(SchemaTooNew, match="999") as caught:
        open_pod_store(store_url)
    assert isinstance(caught.value, PodStoreError) and isinstance(caught.value, SessionStoreError)


def test_an_unreachable_database_fails_open_quickly_with_a_typed_error() -> None:
    url = f"postgresql://yoi:pw@127.0.0.1:{free_loopback_port()}/postgres"
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="unavailable") as caught:
        open_pod_store(url)
    assert time.monotonic() - started < 5
    assert "pw" not in str(caught.value).replace("postgres", "")
    with pytest.raises(SessionStoreError):
        open_session_store(url)


def test_closed_stores_refuse_further_use(store_url: str) -> None:
    pods = open_pod_store(store_url)
    assert isinstance(pods, PostgresPodStore)
    pods.close()
    with pytest.raises(PodStoreError, match="closed"):
        pods.list_pods()
    sessions = open_session_store(store_url)
    sessions.close()
    with pytest.raises(SessionStoreError, match="closed"):
        sessions.list_sessions()
