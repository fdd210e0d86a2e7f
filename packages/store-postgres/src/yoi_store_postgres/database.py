"""One opened store's link to PostgreSQL: its connection pool, migrations and error mapping.

Every store object owns one :class:`Database` (one pool). Connections run in autocommit mode
with ``search_path`` set to the store's schema; multi-statement work opens an explicit
transaction. Every psycopg error leaving this package is turned into one of the stores' typed
errors (:mod:`yoi_store_postgres.errors`), so callers never need to import psycopg.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
import psycopg.conninfo
from psycopg import sql
from psycopg_pool import ConnectionPool

from yoi_store_postgres.config import PostgresConfig
from yoi_store_postgres.errors import (
    DatabaseError,
    DatabaseUnavailable,
    PostgresStoreError,
    SchemaTooNew,
)
from yoi_store_postgres.migrations import CREATE_MIGRATIONS_TABLE, LATEST_VERSION, MIGRATIONS

_T = TypeVar("_T")

Connection = psycopg.Connection[Any]

#: First key of every advisory lock this package takes ("yoi" in ASCII), one per purpose below.
_LOCK_MIGRATIONS = 0x796F6900
LOCK_POD = 0x796F6901


def describe(exc: BaseException) -> str:
    """The first line of a database error, without libpq's decoration."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def translate(exc: psycopg.Error, display_url: str) -> PostgresStoreError:
    """The store error for a psycopg error (the caller raises it ``from`` the original)."""
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable(f"database {display_url} is unavailable: {describe(exc)}")
    return DatabaseError(f"database {display_url} refused the operation: {describe(exc)}")


class Database:
    """The pool and settings of one opened store. Use :meth:`open`."""

    def __init__(self, config: PostgresConfig, kwargs: dict[str, Any], pool: ConnectionPool[Any]):
        self.config = config
        self._kwargs = kwargs
        self.pool = pool
        self._closed = False

    @classmethod
    def open(cls, config: PostgresConfig) -> Database:
        """Connect, apply pending migrations and open the pool; raise a store error if not."""
        kwargs = connection_kwargs(config)
        with _errors(config.display_url):
            with psycopg.connect(config.conninfo, **kwargs) as conn:
                migrate(conn, config.schema)
            pool: ConnectionPool[Any] = ConnectionPool(
                config.conninfo,
                kwargs=kwargs,
                min_size=1,
                max_size=config.pool_size,
                open=False,
                name=f"yoi-store-postgres {config.display_url}",
                # How long an operation waits for a connection: a database that is down fails
                # each call after about one connect timeout instead of hanging.
                timeout=max(config.connect_timeout, 1.0),
                reconnect_timeout=max(config.connect_timeout, 1.0) * 6,
            )
            try:
                pool.open(wait=True, timeout=max(config.connect_timeout, 1.0) * 2)
            except BaseException:
                pool.close()
                raise
        return cls(config, kwargs, pool)

    @property
    def closed(self) -> bool:
        return self._closed

    def connect(self) -> Connection:
        """A connection of its own, outside the pool (a lease heartbeat keeps one)."""
        with self.errors():
            return psycopg.connect(self.config.conninfo, **self._kwargs)

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Connection]:
        """A pooled connection; database errors inside become store errors."""
        if self._closed:
            raise PostgresStoreError("the store is closed")
        with self.errors(), self.pool.connection(timeout=timeout) as conn:
            yield conn

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        with _errors(self.config.display_url):
            yield

    def lock_key(self, kind: int, name: str) -> tuple[int, int]:
        """The advisory lock key of ``name``: stable across hosts, distinct per schema."""
        digest = hashlib.blake2b(f"{self.config.schema}\0{name}".encode(), digest_size=4).digest()
        return kind, int.from_bytes(digest, "big", signed=True)

    def bounded(self, work: Callable[[Connection], _T], timeout: float) -> _T:
        """Run ``work`` on a pooled connection, giving up (TimeoutError) after ``timeout`` s.

        The work runs in a daemon thread: a database that stopped answering (a dead host, a
        black-holed network) cannot hold the caller longer than ``timeout``, whatever the
        socket does. The abandoned thread ends when its connection fails.
        """
        outcome: list[Any] = []
        done = threading.Event()

        def run() -> None:
            try:
                with self.connection(timeout=timeout) as conn:
                    outcome.append((True, work(conn)))
            except BaseException as exc:
                outcome.append((False, exc))
            finally:
                done.set()

        threading.Thread(target=run, name="yoi-store-postgres-probe", daemon=True).start()
        if not done.wait(timeout):
            raise TimeoutError(f"the database did not answer within {timeout:g} s")
        ok, value = outcome[0]
        if not ok:
            raise value
        result: _T = value
        return result

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.pool.close()


@contextlib.contextmanager
def _errors(display_url: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc, display_url) from exc


def connection_kwargs(config: PostgresConfig) -> dict[str, Any]:
    """libpq settings every connection of a store gets (on top of the URL's own)."""
    given = psycopg.conninfo.conninfo_to_dict(config.conninfo)
    options = f"{given.get('options') or ''} -c search_path={config.schema}".strip()
    kwargs: dict[str, Any] = {"autocommit": True, "options": options}
    if "application_name" not in given:
        kwargs["application_name"] = "yoi-store-postgres"
    return kwargs


def migrate(conn: Connection, schema: str) -> int:
    """Bring the schema to :data:`LATEST_VERSION`; return the version found before.

    Cheap when nothing is pending (one query). Otherwise every migration runs in one
    transaction holding an advisory lock keyed by the schema, so concurrent openers wait for
    the first and then find nothing left to do.
    """
    current = _applied_version(conn)
    if current == LATEST_VERSION:
        return current
    if current is not None and current > LATEST_VERSION:
        raise SchemaTooNew(current, LATEST_VERSION)
    digest = hashlib.blake2b(f"{schema}\0migrations".encode(), digest_size=4).digest()
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            (_LOCK_MIGRATIONS, int.from_bytes(digest, "big", signed=True)),
        )
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(CREATE_MIGRATIONS_TABLE)
        found = _applied_version(conn) or 0
        if found > LATEST_VERSION:
            raise SchemaTooNew(found, LATEST_VERSION)
        for migration in MIGRATIONS:
            if migration.version > found:
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO yoi_schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
    return current or 0


def _applied_version(conn: Connection) -> int | None:
    row = conn.execute("SELECT to_regclass('yoi_schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return None
    version = conn.execute("SELECT max(version) FROM yoi_schema_migrations").fetchone()
    return int(version[0]) if version and version[0] is not None else 0
