"""Opening a store-backed Runtime: which runtime id, the hosting lease, then the Runtime."""

from __future__ import annotations

import contextlib
import time
from typing import Unpack

from yoi_base.paths import default_store_url
from yoi_pod_store.contract import HostingLease, PodStore
from yoi_pod_store.errors import RuntimeAlreadyHosted, StoreUrlError
from yoi_pod_store.plugins import UnknownBackendError as UnknownPodBackend
from yoi_pod_store.plugins import open_pod_store
from yoi_session_store.contract import SessionStore
from yoi_session_store.errors import InvalidStoreUrlError
from yoi_session_store.plugins import STORE_URL_ENV as SESSION_STORE_URL_ENV
from yoi_session_store.plugins import UnknownBackendError as UnknownSessionBackend
from yoi_session_store.plugins import open_session_store

from yoi_worker_runtime.errors import InvalidRequest, InvalidWorkerId, RuntimeAlreadyOpen
from yoi_worker_runtime.ids import new_runtime_id, validate_worker_name
from yoi_worker_runtime.model import StoreSchemes
from yoi_worker_runtime.runtime import Runtime, RuntimeOptions
from yoi_worker_runtime.store_backed.errors import store_errors
from yoi_worker_runtime.store_backed.persistence import StoreBackedPersistence
from yoi_worker_runtime.store_backed.recovery import default_runtime_id


def open_runtime(
    store_url: str | None = None,
    *,
    runtime_id: str | None = None,
    display_name: str | None = None,
    advertise_url: str | None = None,
    wait_for_lease: bool = False,
    **options: Unpack[RuntimeOptions],
) -> Runtime:
    """Open (or create) a Runtime kept in the yoi data store ``store_url`` names.

    ``store_url`` is given to both ``open_pod_store`` and ``open_session_store``; ``None``
    lets each pick its default (``$YOI_POD_STORE`` / ``$YOI_SESSION_STORE``, else
    ``$YOI_STORE``, else ``fs:``, the data dir). ``runtime_id=None`` reopens the Runtime most
    recently opened on the store unless it has stopped, else starts a new one with a generated
    id. Raises RuntimeAlreadyOpen when another open Runtime holds that id (nothing is read or
    written then), InvalidRequest for a bad URL or option.

    ``advertise_url`` is the REST URL recorded for Runtimes sharing the store to send clients
    to. On a store whose leases lapse by time (PostgreSQL), a Runtime that died keeps its
    lease until it lapses; ``wait_for_lease`` waits for that (at most the lease's time to live
    and its safety margin) instead of failing at once.
    """
    try:
        pods = open_pod_store(store_url)
    except (StoreUrlError, UnknownPodBackend) as exc:
        raise InvalidRequest(f"store URL: {exc}") from None
    session_url = store_url or default_store_url(SESSION_STORE_URL_ENV)
    try:
        sessions = open_session_store(session_url)
    except (InvalidStoreUrlError, UnknownSessionBackend) as exc:
        pods.close()
        raise InvalidRequest(f"store URL: {exc}") from None
    return open_runtime_on(
        pods,
        sessions,
        runtime_id=runtime_id,
        display_name=display_name,
        close_stores=True,
        stores=StoreSchemes(pod_store=_scheme(pods.url), session_store=_scheme(session_url)),
        advertise_url=advertise_url,
        wait_for_lease=wait_for_lease,
        **options,
    )


def open_runtime_on(
    pods: PodStore,
    sessions: SessionStore,
    *,
    runtime_id: str | None = None,
    display_name: str | None = None,
    close_stores: bool = False,
    stores: StoreSchemes | None = None,
    advertise_url: str | None = None,
    wait_for_lease: bool = False,
    **options: Unpack[RuntimeOptions],
) -> Runtime:
    """Like :func:`open_runtime`, on store objects the caller opened (e.g. two different URLs).

    With ``close_stores`` the Runtime closes both stores when it closes (also when opening
    fails); without it they stay the caller's. ``stores`` names their URL schemes for the
    Runtime's summary (a session store object does not know its URL); None leaves them out.
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
            lease = _host(pods, runtime_id, wait_for_lease)
    except BaseException:
        if close_stores:
            with contextlib.suppress(Exception):
                sessions.close()
            with contextlib.suppress(Exception):
                pods.close()
        raise
    persistence = StoreBackedPersistence(
        pods, sessions, lease, close_stores=close_stores, stores=stores, advertise_url=advertise_url
    )
    return Runtime.open(
        runtime_id=runtime_id, display_name=display_name, persistence=persistence, **options
    )


#: Seconds added to a lease's announced lapse before trying again: the holder's clock and the
#: store's are not the same, and a retry a moment too early would fail for nothing.
_LAPSE_SLACK = 0.25


def _host(pods: PodStore, runtime_id: str, wait_for_lease: bool) -> HostingLease:
    """The hosting lease of ``runtime_id``; with ``wait_for_lease``, once a lapsing lease that
    holds it has lapsed (RuntimeAlreadyOpen when its holder renews it meanwhile)."""
    started = time.monotonic()
    deadline: float | None = None
    while True:
        try:
            return pods.host(runtime_id)
        except RuntimeAlreadyHosted as exc:
            if not wait_for_lease or exc.lapses_in is None:
                raise RuntimeAlreadyOpen(runtime_id, exc.holder, exc.lapses_in) from None
            now = time.monotonic()
            if deadline is None:
                deadline = now + max(exc.lapses_in, 0.0) + _LAPSE_SLACK
            elif now >= deadline:
                waited = now - started
                raise RuntimeAlreadyOpen(runtime_id, exc.holder, waited=waited) from None
            # Sleep until the lease announced it lapses (a bounded wait: the deadline was
            # set by the first answer, so a holder that keeps renewing ends it).
            time.sleep(max(min(exc.lapses_in + _LAPSE_SLACK, deadline - now), 0.01))


def _scheme(url: str) -> str:
    return url.partition(":")[0]
