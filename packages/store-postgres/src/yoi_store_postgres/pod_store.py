"""The Pod store on PostgreSQL: records in tables, per-name locks, hosting leases with a TTL.

Records are stored as the exact bytes the ``fs`` backend writes to ``metadata.json`` (and
``runtime.json``), so unknown keys survive and a corrupt record stays visible as corrupt. A
Pod's per-name lock is a transaction-scoped advisory lock, which works for names that have no
row yet; everything done under :meth:`PostgresPodStore.locked` is one transaction.

A Runtime's hosting lease is a row of ``yoi_runtime_leases`` with an expiry time that a
heartbeat thread pushes forward every quarter TTL. Every time is taken from the database's own
clock (``clock_timestamp()``), on renewal and on probe alike, so the clocks of the hosts running
Runtimes and cleanups never enter the judgement. See the README for the full argument.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import attrs
import psycopg
import psycopg.errors
from yoi_pod_store.contract import (
    MAX_PROBE_TIMEOUT,
    HostingLease,
    Liveness,
    LivenessState,
    LockedPod,
    PodListing,
    PodStore,
    RuntimeListing,
)
from yoi_pod_store.errors import (
    CorruptPodRecord,
    CorruptRuntimeRecord,
    InvalidRecord,
    LeaseClosed,
    PodLockTimeout,
    RuntimeAlreadyHosted,
    safe_repr,
)
from yoi_pod_store.model import (
    PodRecord,
    RecordFormatError,
    RuntimeRecord,
    encode_pod_record,
    encode_runtime_record,
    utc_now,
)
from yoi_pod_store.names import validate_pod_name, validate_runtime_id
from yoi_pod_store.stored import load_pod_record, load_runtime_record

from yoi_store_postgres.config import PostgresConfig, parse_url
from yoi_store_postgres.database import LOCK_POD, Connection, Database, describe
from yoi_store_postgres.errors import LeaseLost, PostgresStoreError


class _PostgresLockedPod(LockedPod):
    """A Pod name inside the transaction that holds its advisory lock."""

    def __init__(self, conn: Connection, name: str) -> None:
        self.name = name
        self._conn = conn

    def read(self) -> PodRecord | None:
        row = self._conn.execute("SELECT body FROM yoi_pods WHERE name = %s", (self.name,))
        found = row.fetchone()
        return None if found is None else load_pod_record(self.name, bytes(found[0]))

    def write(self, record: PodRecord) -> None:
        try:
            body = encode_pod_record(record).encode()
        except RecordFormatError as exc:
            raise InvalidRecord(str(exc)) from exc
        self._conn.execute(
            "INSERT INTO yoi_pods (name, body, written_at) VALUES (%s, %s, clock_timestamp()) "
            "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, written_at = "
            "EXCLUDED.written_at",
            (self.name, body),
        )

    def delete(self) -> int:
        row = self._conn.execute(
            "DELETE FROM yoi_pods WHERE name = %s RETURNING octet_length(body)", (self.name,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def size(self) -> int:
        row = self._conn.execute(
            "SELECT octet_length(body) FROM yoi_pods WHERE name = %s", (self.name,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def written_at(self) -> datetime | None:
        row = self._conn.execute(
            "SELECT written_at FROM yoi_pods WHERE name = %s", (self.name,)
        ).fetchone()
        return None if row is None else row[0]


_PROBE_COLUMNS = """
    runtime_id, holder,
    expires_at > clock_timestamp(),
    expires_at + ttl / 5 > clock_timestamp(),
    extract(epoch FROM expires_at - clock_timestamp())::float8,
    extract(epoch FROM ttl / 5)::float8
"""


def _judge(row: tuple[Any, ...], hint: str) -> Liveness:
    runtime_id, holder, fresh, within_margin, remaining, margin = row
    who = f"runtime {safe_repr(runtime_id)}"
    if fresh:
        state, reason = (
            LivenessState.LIVE,
            f"{who} holds a fresh lease ({holder}; {remaining:.1f} s left by the database clock)",
        )
    elif within_margin:
        state, reason = (
            LivenessState.UNCERTAIN,
            f"liveness of {who} is uncertain; its lease ({holder}) expired {-remaining:.1f} s "
            f"ago, within the {margin:g} s safety margin",
        )
    else:
        state, reason = (
            LivenessState.STOPPED,
            f"{who} is not running (its lease, {holder}, expired {-remaining:.1f} s ago)",
        )
    return Liveness(state, reason, runtime_id=runtime_id, hint=f"{hint}#runtime={runtime_id}")


class PostgresHostingLease(HostingLease):
    """A runtime's lease row, renewed by a heartbeat thread until :meth:`close`.

    If a renewal finds the lease already expired (the database was unreachable for longer than
    the TTL, or the process stalled), the lease is *lost*: :attr:`lost` turns true, claims
    raise :class:`LeaseLost`, and it never renews again, because by then another host may have
    judged this runtime's Pods stopped.
    """

    def __init__(self, store: PostgresPodStore, runtime_id: str) -> None:
        super().__init__(store, runtime_id)
        self._db = store.db
        self._token = str(uuid.uuid4())
        # Taken *before* each successful renewal is sent: the database set the expiry later
        # than this, so the lease certainly stands until at least this moment plus the TTL.
        self._renewed_at = time.monotonic()
        self._stop = threading.Event()
        self._conn: Connection | None = self._db.connect()
        try:
            self._acquire(self._conn)
        except BaseException:
            self._conn.close()
            raise
        self._thread = threading.Thread(
            target=self._heartbeat, name=f"yoi-lease-{runtime_id}", daemon=True
        )
        self._thread.start()

    @property
    def hint(self) -> str:
        return f"{self._db.config.display_url}#runtime={self.runtime_id}"

    def ensure_held(self) -> None:
        """As :meth:`HostingLease.ensure_held`; renews first when the last renewal is old.

        Renewals are timed with this process's monotonic clock, which goes on while the process
        is stopped: if the heartbeat has not renewed for half a TTL (a stalled or suspended
        process, an outage), this waits for a renewal that proves the lease still stands, or
        fails with :class:`LeaseLost`. A renewal only succeeds on an unexpired lease, so a
        success also proves the lease never lapsed since the previous one.
        """
        super().ensure_held()
        if time.monotonic() - self._renewed_at > self._db.config.lease_ttl / 2:
            self.renew()

    @property
    def token(self) -> str:
        """This lease's identity in its row (a new lease of the same runtime gets a new one)."""
        return self._token

    def _acquire(self, conn: Connection) -> None:
        ttl = timedelta(seconds=self._db.config.lease_ttl)
        holder = f"host {socket.gethostname()} pid {os.getpid()}"
        with self._db.errors():
            row = conn.execute(
                """
                INSERT INTO yoi_runtime_leases AS l (runtime_id, token, ttl, holder, expires_at)
                VALUES (%(id)s, %(token)s, %(ttl)s, %(holder)s, clock_timestamp() + %(ttl)s)
                ON CONFLICT (runtime_id) DO UPDATE SET
                    token = EXCLUDED.token, ttl = EXCLUDED.ttl, holder = EXCLUDED.holder,
                    acquired_at = clock_timestamp(), renewed_at = clock_timestamp(),
                    expires_at = EXCLUDED.expires_at
                WHERE l.expires_at + l.ttl / 5 < clock_timestamp()
                RETURNING token
                """,
                {"id": self.runtime_id, "token": self._token, "ttl": ttl, "holder": holder},
            ).fetchone()
        if row is None:
            raise self._already_hosted(conn)

    def _already_hosted(self, conn: Connection) -> RuntimeAlreadyHosted:
        """The refusal, saying who holds the lease and when it lapses if not renewed."""
        with contextlib.suppress(PostgresStoreError), self._db.errors():
            row = conn.execute(
                "SELECT holder, extract(epoch FROM expires_at + ttl / 5 - clock_timestamp())"
                "::float8 FROM yoi_runtime_leases WHERE runtime_id = %s",
                (self.runtime_id,),
            ).fetchone()
            if row is not None:
                return RuntimeAlreadyHosted(self.runtime_id, holder=row[0], lapses_in=row[1])
        return RuntimeAlreadyHosted(self.runtime_id)

    def renew(self, conn: Connection | None = None) -> None:
        """Push the expiry forward now; raise :class:`LeaseLost` if it already passed."""
        if self._lost_reason is not None:
            raise LeaseLost(self.runtime_id, self._lost_reason)
        sent_at = time.monotonic()
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self._db.connection())
            with self._db.errors():
                row = conn.execute(
                    "UPDATE yoi_runtime_leases SET renewed_at = clock_timestamp(), "
                    "expires_at = clock_timestamp() + ttl "
                    "WHERE runtime_id = %s AND token = %s AND expires_at > clock_timestamp() "
                    "RETURNING expires_at",
                    (self.runtime_id, self._token),
                ).fetchone()
        if row is None:
            self._declare_lost("it expired before it was renewed, or was taken over")
            raise LeaseLost(self.runtime_id, "it expired before it was renewed, or was taken over")
        self._renewed_at = sent_at

    def _heartbeat(self) -> None:
        interval = self._db.config.heartbeat_interval
        while not self._stop.wait(interval):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._db.connect()
                self.renew(self._conn)
            except LeaseLost:
                return
            except PostgresStoreError:
                # Unreachable for now: reconnect on the next beat. If the outage outlasts the
                # TTL, that renewal finds the lease expired and the lease is lost.
                self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def claim(
        self, name: str, prepare: Callable[[PodRecord | None], PodRecord] | None = None
    ) -> PodRecord:
        """As :meth:`HostingLease.claim`, after renewing the lease (:class:`LeaseLost`)."""
        validate_pod_name(name)
        if self.closed:
            raise LeaseClosed(self.runtime_id)
        self.renew()
        return super().claim(name, prepare)

    def _close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._db.config.connect_timeout + 1)
        conn = self._conn if not self._thread.is_alive() else None
        try:
            if conn is None or conn.closed:
                conn = self._db.connect()
                self._conn = conn
            with self._db.errors():
                conn.execute(
                    "DELETE FROM yoi_runtime_leases WHERE runtime_id = %s AND token = %s",
                    (self.runtime_id, self._token),
                )
        except PostgresStoreError:
            pass  # unreachable: the row simply expires after its TTL
        finally:
            self._drop_connection()


class PostgresPodStore(PodStore):
    """Pod metadata, runtime records and hosting leases in one PostgreSQL schema."""

    def __init__(self, config: PostgresConfig, db: Database) -> None:
        self.url = config.url
        self.config = config
        self.db = db

    def __repr__(self) -> str:
        return f"PostgresPodStore(url={self.config.display_url!r})"

    def close(self) -> None:
        self.db.close()

    # ---- Pod records ----

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[LockedPod]:
        validate_pod_name(name)
        timeout = self.config.lock_timeout
        with self.db.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{timeout * 1000:.0f}",))
            try:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", self.db.lock_key(LOCK_POD, name)
                )
            except psycopg.errors.LockNotAvailable:
                raise PodLockTimeout(name, timeout) from None
            yield _PostgresLockedPod(conn, name)

    def read(self, name: str) -> PodRecord | None:
        validate_pod_name(name)
        with self.db.connection() as conn:
            row = conn.execute("SELECT body FROM yoi_pods WHERE name = %s", (name,)).fetchone()
        return None if row is None else load_pod_record(name, bytes(row[0]))

    def list_pods(self) -> builtins.list[PodListing]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT name, body FROM yoi_pods").fetchall()
        listings = []
        for name, body in sorted(rows):
            try:
                listings.append(PodListing(name, record=load_pod_record(name, bytes(body))))
            except CorruptPodRecord as exc:
                listings.append(PodListing(name, error=exc))
        return listings

    # ---- runtime records ----

    def write_runtime(self, record: RuntimeRecord) -> RuntimeRecord:
        validate_runtime_id(record.runtime_id)
        if record.created_at is None:
            record = attrs.evolve(record, created_at=utc_now())
        try:
            body = encode_runtime_record(record).encode()
        except RecordFormatError as exc:
            raise InvalidRecord(str(exc)) from exc
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO yoi_runtimes (runtime_id, body, written_at) "
                "VALUES (%s, %s, clock_timestamp()) ON CONFLICT (runtime_id) DO UPDATE "
                "SET body = EXCLUDED.body, written_at = EXCLUDED.written_at",
                (record.runtime_id, body),
            )
        return record

    def read_runtime(self, runtime_id: str) -> RuntimeRecord | None:
        validate_runtime_id(runtime_id)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT body FROM yoi_runtimes WHERE runtime_id = %s", (runtime_id,)
            ).fetchone()
        return None if row is None else load_runtime_record(runtime_id, bytes(row[0]))

    def list_runtimes(self) -> builtins.list[RuntimeListing]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT runtime_id, body FROM yoi_runtimes").fetchall()
        listings = []
        for runtime_id, body in sorted(rows):
            try:
                record = load_runtime_record(runtime_id, bytes(body))
                listings.append(RuntimeListing(runtime_id, record=record))
            except CorruptRuntimeRecord as exc:
                listings.append(RuntimeListing(runtime_id, error=exc))
        return listings

    def delete_runtime(self, runtime_id: str) -> bool:
        validate_runtime_id(runtime_id)
        with self.db.connection() as conn:
            row = conn.execute(
                "DELETE FROM yoi_runtimes WHERE runtime_id = %s RETURNING 1", (runtime_id,)
            ).fetchone()
        return row is not None

    # ---- liveness ----

    def host(self, runtime_id: str) -> PostgresHostingLease:
        validate_runtime_id(runtime_id)
        return PostgresHostingLease(self, runtime_id)

    def probe(self, name: str) -> Liveness:
        """As :meth:`PodStore.probe`, with the record read bounded by the probe timeout too.

        An unreachable database makes the probe uncertain instead of raising.
        """
        validate_pod_name(name)

        def ask(conn: Connection) -> bytes | None:
            row = conn.execute("SELECT body FROM yoi_pods WHERE name = %s", (name,)).fetchone()
            return None if row is None else bytes(row[0])

        try:
            body = self.db.bounded(ask, MAX_PROBE_TIMEOUT)
            if body is None:
                return Liveness(LivenessState.STOPPED, "pod metadata is missing")
            try:
                record = load_pod_record(name, body)
            except CorruptPodRecord:
                return super().probe(name)  # judged against every runtime lease
        except (PostgresStoreError, TimeoutError) as exc:
            return self._uncertain(None, exc, f"pod {safe_repr(name)}")
        if record.hosting_runtime_id is None:
            return Liveness(LivenessState.STOPPED, "pod is not hosted by any runtime")
        return self.probe_runtime(record.hosting_runtime_id)

    def probe_runtime(self, runtime_id: str) -> Liveness:
        validate_runtime_id(runtime_id)
        hint = self.config.display_url

        def ask(conn: Connection) -> tuple[Any, ...] | None:
            return conn.execute(
                f"SELECT {_PROBE_COLUMNS} FROM yoi_runtime_leases WHERE runtime_id = %s",  # noqa: S608 (constant columns)
                (runtime_id,),
            ).fetchone()

        try:
            row = self.db.bounded(ask, MAX_PROBE_TIMEOUT)
        except (PostgresStoreError, TimeoutError) as exc:
            return self._uncertain(runtime_id, exc)
        if row is None:
            return Liveness(
                LivenessState.STOPPED,
                f"runtime {safe_repr(runtime_id)} is not running (it holds no lease)",
                runtime_id=runtime_id,
                hint=f"{hint}#runtime={runtime_id}",
            )
        return _judge(row, hint)

    def probe_all_runtimes(self) -> builtins.list[Liveness]:
        def ask(conn: Connection) -> builtins.list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {_PROBE_COLUMNS} FROM yoi_runtime_leases ORDER BY runtime_id"  # noqa: S608 (constant columns)
            ).fetchall()

        try:
            rows = self.db.bounded(ask, MAX_PROBE_TIMEOUT)
        except (PostgresStoreError, TimeoutError) as exc:
            return [self._uncertain(None, exc)]
        return [_judge(row, self.config.display_url) for row in rows]

    def _uncertain(
        self, runtime_id: str | None, exc: BaseException, who: str | None = None
    ) -> Liveness:
        if who is None:
            who = f"runtime {safe_repr(runtime_id)}" if runtime_id else "every runtime"
        return Liveness(
            LivenessState.UNCERTAIN,
            f"liveness of {who} is uncertain; the database cannot be asked ({describe(exc)})",
            runtime_id=runtime_id,
            hint=self.config.display_url,
        )


def open_postgres_pod_store(url: str) -> PostgresPodStore:
    """Open the Pod store at ``url`` (``postgresql://...``), migrating its schema if needed."""
    config = parse_url(url)
    return PostgresPodStore(config, Database.open(config))


__all__ = [
    "PostgresHostingLease",
    "PostgresPodStore",
    "open_postgres_pod_store",
]
