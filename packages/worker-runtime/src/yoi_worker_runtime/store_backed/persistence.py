"""StoreBackedPersistence: a Runtime kept in a Pod store and a session store, of any backend.

It is the core's :class:`~yoi_worker_runtime.persistence.RuntimePersistence` written against the
two store contracts only: its changes (the ``record_*`` calls) are :mod:`.writes`' (one append
commits a change), loading and restoring by name are :mod:`.recovery`'s (the log is the truth,
and a reopen repairs what a crash left half done). :mod:`.mapping` says what is written.
"""

from __future__ import annotations

import contextlib

from yoi_pod_store.contract import HostingLease, PodStore
from yoi_session_store.contract import SessionStore

from yoi_worker_runtime.model import Backend, StoreSchemes, WorkerRef
from yoi_worker_runtime.persistence import RestoredRuntime, RestoredWorker
from yoi_worker_runtime.store_backed.errors import store_errors
from yoi_worker_runtime.store_backed.recovery import StoreRecovery
from yoi_worker_runtime.store_backed.writes import StoreWrites


class StoreBackedPersistence(StoreWrites):
    """A :class:`~yoi_worker_runtime.persistence.RuntimePersistence` on the two store contracts.

    ``lease`` must be the open hosting lease of the Runtime's id (``pods.host(runtime_id)``): it
    is what makes this Runtime's Pods probe live, and what keeps a second process out. The
    persistence closes the lease in :meth:`close`, and the stores too when ``close_stores``.
    ``stores`` (the stores' URL schemes) is what the Runtime's summary reports; None: not known.
    """

    def __init__(
        self,
        pods: PodStore,
        sessions: SessionStore,
        lease: HostingLease,
        *,
        close_stores: bool = False,
        stores: StoreSchemes | None = None,
    ) -> None:
        super().__init__(pods, sessions, lease)
        self._recovery = StoreRecovery(pods, sessions, self)
        self._close_stores = close_stores
        self._stores = stores
        self._closed = False

    @property
    def backend(self) -> Backend:
        return "store"

    @property
    def stores(self) -> StoreSchemes | None:
        return self._stores

    @property
    def hosting_lost(self) -> bool:
        """True once the hosting lease lapsed for good: every further write would be refused."""
        return self.lease.lost

    def load(self) -> RestoredRuntime | None:
        return self._recovery.load()

    def claim_worker(self, ref: WorkerRef) -> RestoredWorker | None:
        return self._recovery.claim_worker(ref)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.write_pending_activity()
        finally:
            try:
                with store_errors(f"hosting lease of runtime {self.runtime_id}"):
                    self.lease.close()
            finally:
                if self._close_stores:
                    with contextlib.suppress(Exception):
                        self.sessions.close()
                    with contextlib.suppress(Exception):
                        self.pods.close()
