"""Opening a store-backed Runtime: which runtime id, the hosting lease, then the Runtime."""

from __future__ import annotations

import contextlib

from yoi_pod_store.contract import PodStore
from yoi_pod_store.errors import RuntimeAlreadyHosted as LeaseHeld
from yoi_pod_store.errors import StoreUrlError
from yoi_pod_store.plugins import UnknownBackendError as UnknownPodBackend
from yoi_pod_store.plugins import open_pod_store
from yoi_session_store.contract import SessionStore
from yoi_session_store.errors import InvalidStoreUrlError
from yoi_session_store.plugins import UnknownBackendError as UnknownSessionBackend
from yoi_session_store.plugins import open_session_store

from yoi_worker_runtime.errors import InvalidRequest, InvalidWorkerId, RuntimeAlreadyHosted
from yoi_worker_runtime.fs_store.errors import store_errors
from yoi_worker_runtime.fs_store.persistence import StoreBackedPersistence, default_runtime_id
from yoi_worker_runtime.ids import new_runtime_id, validate_worker_name
from yoi_worker_runtime.model import RuntimeLimits
from yoi_worker_runtime.runtime import Runtime


def open_runtime(
    store_url: str | None = None,
    *,
    runtime_id: str | None = None,
    display_name: str | None = None,
    limits: RuntimeLimits | None = None,
) -> Runtime:
    """Open (or create) a Runtime kept in the yoi data store ``store_url`` names.

    ``store_url`` is given to both ``open_pod_store`` and ``open_session_store``; ``None``
    lets each pick its default (``$YOI_POD_STORE`` / ``$YOI_SESSION_STORE``, else
    ``$YOI_STORE``, else ``fs:``, the data dir). ``runtime_id=None`` reopens the Runtime most
    recently opened on the store unless it has stopped, else starts a new one with a generated
    id. Raises RuntimeAlreadyHosted when another open Runtime holds that id (nothing is read or
    written then), InvalidRequest for a bad URL or option.
    """
    try:
        pods = open_pod_store(store_url)
    except (StoreUrlError, UnknownPodBackend) as exc:
        raise InvalidRequest(f"store URL: {exc}") from None
    try:
        sessions = open_session_store(store_url)
    except (InvalidStoreUrlError, UnknownSessionBackend) as exc:
        pods.close()
        raise InvalidRequest(f"store URL: {exc}") from None
    return open_runtime_on(
        pods,
        sessions,
        runtime_id=runtime_id,
        display_name=display_name,
        limits=limits,
        close_stores=True,
    )


def open_runtime_on(
    pods: PodStore,
    sessions: SessionStore,
    *,
    runtime_id: str | None = None,
    display_name: str | None = None,
    limits: RuntimeLimits | None = None,
    close_stores: bool = False,
) -> Runtime:
    """Like :func:`open_runtime`, on store objects the caller opened (e.g. two different URLs).

    With ``close_stores`` the Runtime closes both stores when it closes (also when opening
    fails); without it they stay the caller's.
    """
    try:
        if runtime_id is not None:
            try:
                validate_worker_name(runtime_id, what="runtime id")
            except InvalidWorkerId as exc:
                raise InvalidRequest(exc.detail) from None
        else:
            runtime_id = default_runtime_id(pods) or new_runtime_id()
        with store_errors(f"hosting lease of runtime {runtime_id}"):
            try:
                lease = pods.host(runtime_id)
            except LeaseHeld:
                raise RuntimeAlreadyHosted(runtime_id) from None
    except BaseException:
        if close_stores:
            with contextlib.suppress(Exception):
                sessions.close()
            with contextlib.suppress(Exception):
                pods.close()
        raise
    persistence = StoreBackedPersistence(pods, sessions, lease, close_stores=close_stores)
    return Runtime.open(
        runtime_id=runtime_id, display_name=display_name, limits=limits, persistence=persistence
    )
