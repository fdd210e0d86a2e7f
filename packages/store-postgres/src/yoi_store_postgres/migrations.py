"""The versioned database schema, applied on open.

Each migration runs once, in its own transaction, in version order, and is recorded in
``yoi_schema_migrations``. Openers serialise on an advisory lock keyed by the schema name, so
any number of processes may open a fresh database at once: the first applies the migrations,
the others find them done. A database migrated by a newer release than this one is refused
(:class:`~yoi_store_postgres.errors.SchemaTooNew`) rather than written with old assumptions.
Migrations are only ever appended to this list; a released one never changes.
"""

from __future__ import annotations

from typing import LiteralString

import attrs


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: LiteralString


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "pods, runtimes, hosting leases, sessions, segments, entries and traces",
        """
        -- Pod and runtime records: the exact bytes the fs backend would write to its files
        -- (bytea, not jsonb, so unknown keys, key order and even corrupt records survive).
        CREATE TABLE yoi_pods (
            name text PRIMARY KEY,
            body bytea NOT NULL,
            written_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE TABLE yoi_runtimes (
            runtime_id text PRIMARY KEY,
            body bytea NOT NULL,
            written_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        -- One row per hosted runtime; every time in it comes from the database clock.
        CREATE TABLE yoi_runtime_leases (
            runtime_id text PRIMARY KEY,
            token uuid NOT NULL,
            ttl interval NOT NULL,
            holder text NOT NULL,
            acquired_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            renewed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            expires_at timestamptz NOT NULL
        );
        CREATE TABLE yoi_sessions (
            session_id uuid PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE TABLE yoi_segments (
            segment_id uuid PRIMARY KEY,
            session_id uuid NOT NULL REFERENCES yoi_sessions ON DELETE CASCADE,
            entry_count integer NOT NULL CHECK (entry_count >= 1),
            log_bytes bigint NOT NULL,
            trace_bytes bigint NOT NULL DEFAULT 0,
            modified_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX yoi_segments_by_session ON yoi_segments (session_id);
        -- Entry lines exactly as encoded (compact JSON, no newline); seq is 1-based.
        CREATE TABLE yoi_entries (
            segment_id uuid NOT NULL REFERENCES yoi_segments ON DELETE CASCADE,
            seq integer NOT NULL CHECK (seq >= 1),
            line bytea NOT NULL,
            PRIMARY KEY (segment_id, seq)
        );
        CREATE TABLE yoi_traces (
            segment_id uuid NOT NULL REFERENCES yoi_segments ON DELETE CASCADE,
            seq bigint GENERATED ALWAYS AS IDENTITY,
            record bytea NOT NULL,
            PRIMARY KEY (segment_id, seq)
        );
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS yoi_schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""
