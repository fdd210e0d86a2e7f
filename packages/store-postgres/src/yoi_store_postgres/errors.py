"""Errors the PostgreSQL backends add to those of the two store contracts.

Each class derives from both :class:`~yoi_pod_store.errors.PodStoreError` and
:class:`~yoi_session_store.errors.SessionStoreError`, so a caller that handles a store's errors
(for example the ``yoi`` cleanup commands) handles these too, whichever store raised them.
Messages never contain the password of the store URL.
"""

from __future__ import annotations

from yoi_pod_store.errors import LeaseLost as PodLeaseLost
from yoi_pod_store.errors import PodStoreError, StoreUrlError
from yoi_session_store.errors import InvalidStoreUrlError, SessionStoreError


class PostgresStoreError(PodStoreError, SessionStoreError):
    """Base class of the errors raised only by the PostgreSQL backends."""


class InvalidPostgresUrl(StoreUrlError, InvalidStoreUrlError, PostgresStoreError):  # noqa: N818
    """A ``postgresql://`` store URL or one of its options is malformed."""


class DatabaseUnavailable(PostgresStoreError):  # noqa: N818 (reads as a sentence)
    """The database could not be reached, or the connection broke or timed out mid-operation.

    Nothing is known about the outcome of a write that raised this: it committed entirely or
    not at all (every write is one transaction).
    """


class DatabaseError(PostgresStoreError):
    """The database refused an operation for a reason other than reachability."""


class SchemaTooNew(PostgresStoreError):  # noqa: N818 (reads as a sentence)
    """The database schema was migrated by a newer yoi-store-postgres than this one."""

    def __init__(self, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"the database schema is at version {found}, newer than this yoi-store-postgres "
            f"understands ({known}); upgrade yoi-store-postgres"
        )


class LeaseLost(PodLeaseLost, PostgresStoreError):  # noqa: N818 (upstream error names)
    """The hosting lease expired before it could be renewed (or was taken over).

    Once its lease has expired, other hosts may judge the runtime's Pods stopped and delete
    them, so the lease never comes back to life: the Runtime must stop hosting.
    """
