"""The ``fs-store`` feature: a Runtime whose Workers are Pods and whose history is sessions.

Each Worker is a Pod in a Pod store (name = worker id, hosting runtime, status, the pointer to
its transcript session, its definition as the resolved snapshot) and its transcript is a session
in a session store; the Runtime's own record is a pod-store runtime record whose
``events_session_id`` names the session holding its event log. Both stores are opened by URL
(``fs:`` under the data dir by default, ``memory://NAME``, or any installed backend), so any
store backend can hold a Runtime. See :mod:`.persistence` for the commit rule and
:mod:`.mapping` for the entries written.
"""

from __future__ import annotations

from yoi_worker_runtime.features import require_feature

require_feature("fs-store")

from yoi_worker_runtime.errors import RuntimeAlreadyHosted  # noqa: E402
from yoi_worker_runtime.fs_store.opening import open_runtime, open_runtime_on  # noqa: E402
from yoi_worker_runtime.fs_store.persistence import (  # noqa: E402
    ACTIVITY_INTERVAL,
    StoreBackedPersistence,
    default_runtime_id,
)

__all__ = [
    "ACTIVITY_INTERVAL",
    "RuntimeAlreadyHosted",
    "StoreBackedPersistence",
    "default_runtime_id",
    "open_runtime",
    "open_runtime_on",
]
