"""PostgreSQL backends for the yoi Pod store and session store.

Import cheaply: this module loads nothing. The backends are opened by URL through the stores'
own entry points (``open_pod_store("postgresql://...")``, ``open_session_store(...)``); the
modules are:

- :mod:`yoi_store_postgres.config`: the store URL and its options,
- :mod:`yoi_store_postgres.database`: the connection pool, schema migrations, error mapping,
- :mod:`yoi_store_postgres.pod_store`: :class:`~yoi_store_postgres.pod_store.PostgresPodStore`
  and its hosting lease,
- :mod:`yoi_store_postgres.session_store`:
  :class:`~yoi_store_postgres.session_store.PostgresSessionStore`,
- :mod:`yoi_store_postgres.errors`: the errors this package adds,
- :mod:`yoi_store_postgres.plugins`: the entry-point module (cheap to import).
"""

from __future__ import annotations
