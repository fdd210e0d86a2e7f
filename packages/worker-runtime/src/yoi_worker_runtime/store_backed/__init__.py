"""The ``fs-store`` feature: a Runtime whose Workers are Pods and whose history is sessions.

Each Worker is a Pod in a Pod store (name = worker id, hosting runtime, status, the pointer to
its transcript session, its definition as the resolved snapshot) and its transcript is a session
in a session store; the Runtime's own record is a pod-store runtime record whose
``events_session_id`` names the session holding its event log. Both stores are opened by URL
(``fs:`` under the data dir by default, ``memory://NAME``, ``postgresql://...`` or any installed
backend), so any store backend can hold a Runtime: hence the name, and ``backend == "store"``
in its summary. The extra keeps its historical name ``fs-store``.

:mod:`.writes` states the commit rule, :mod:`.recovery` the reopen and repair rule,
:mod:`.mapping` the entries and records written.
"""

from __future__ import annotations

from yoi_worker_runtime.features import require_feature

require_feature("fs-store")

from yoi_worker_runtime.errors import RuntimeAlreadyOpen  # noqa: E402
from yoi_worker_runtime.store_backed.opening import open_runtime, open_runtime_on  # noqa: E402
from yoi_worker_runtime.store_backed.persistence import StoreBackedPersistence  # noqa: E402
from yoi_worker_runtime.store_backed.recovery import default_runtime_id  # noqa: E402
from yoi_worker_runtime.store_backed.writes import ACTIVITY_INTERVAL  # noqa: E402

__all__ = [
    "ACTIVITY_INTERVAL",
    "RuntimeAlreadyOpen",
    "StoreBackedPersistence",
    "default_runtime_id",
    "open_runtime",
    "open_runtime_on",
]
