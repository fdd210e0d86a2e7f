"""How the REST adapter behaves: its options, its documented maxima, and the state of the
server process it runs in."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeAlias

import attrs

if TYPE_CHECKING:
    from yoi_worker_runtime.http_server.connections import ConnectionGuard
    from yoi_worker_runtime.http_server.watched_store import WatchedPersistence

#: The largest page of transcript items or batch of events any server answers: what the OpenAPI
#: document states, whatever a server's own (lower or equal) maximum is.
MAX_PAGE_ITEMS = 1000
#: The longest ``wait`` (seconds) any server accepts: what the OpenAPI document states.
MAX_EVENT_WAIT = 300.0
#: Default request body limit: 1 MiB.
DEFAULT_MAX_BODY_BYTES = 1 << 20
#: Default upper bound of ``GET /v1/events?wait=`` in seconds.
DEFAULT_MAX_EVENT_WAIT = 30.0
#: Default number of long-polls that may wait at once (each holds a worker thread).
DEFAULT_MAX_EVENT_WAITERS = 64
#: Default seconds between heartbeat comments on an idle event stream.
DEFAULT_STREAM_HEARTBEAT = 15.0
#: Default number of messages an event stream may hold unsent (then it drops deltas, then lags).
DEFAULT_STREAM_BUFFER = 512


@attrs.frozen(kw_only=True)
class AppOptions:
    """How the adapter behaves; the Runtime's own limits come from the Runtime."""

    #: The bearer token every request but health and the OpenAPI document must present.
    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_event_wait: float = DEFAULT_MAX_EVENT_WAIT
    max_event_waiters: int = DEFAULT_MAX_EVENT_WAITERS
    #: Accepted ``Host`` header names (no port); None accepts any. A loopback server sets the
    #: loopback names, so a web page that rebinds its DNS name to 127.0.0.1 is turned away.
    allowed_hosts: frozenset[str] | None = None
    stream_heartbeat: float = DEFAULT_STREAM_HEARTBEAT
    stream_buffer: int = DEFAULT_STREAM_BUFFER

    def __attrs_post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("the bearer token must not be blank")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        if not 0 <= self.max_event_wait <= MAX_EVENT_WAIT:
            raise ValueError(
                f"max_event_wait must be a number of seconds from 0 to {MAX_EVENT_WAIT:g}"
            )
        if self.max_event_waiters < 1:
            raise ValueError("max_event_waiters must be at least 1")
        if not math.isfinite(self.stream_heartbeat) or self.stream_heartbeat < 1:
            raise ValueError("stream_heartbeat must be a number of seconds >= 1")
        if self.stream_buffer < 16:
            raise ValueError("stream_buffer must be at least 16")


#: Where the server is: readiness answers 503 unless it is ``serving``.
ServerPhase: TypeAlias = Literal["starting", "serving", "stopping"]


class ServerState:
    """What the server process knows besides the Runtime, for the app to answer with: its phase
    (``starting`` until it accepts requests, ``serving``, ``stopping`` after SIGTERM), the
    persistence the Runtime writes through (store health and write metrics) and the
    connection guard (connection metrics). An app without one (embedded in another server)
    counts as serving, with no store or connection figures.

    When shutdown begins, long-polls answer at once and every callback registered with
    :meth:`on_shutdown` runs (event streams end)."""

    def __init__(
        self,
        phase: ServerPhase = "serving",
        *,
        store: WatchedPersistence | None = None,
        connections: ConnectionGuard | None = None,
    ) -> None:
        self.store = store
        self.connections = connections
        self._phase: ServerPhase = phase
        self._stopping = threading.Event()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def phase(self) -> ServerPhase:
        return self._phase

    def serving(self) -> None:
        """The server accepts requests now (unless it already began to stop)."""
        if not self._stopping.is_set():
            self._phase = "serving"

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self._stopping.is_set():
            callback()

    def begin_shutdown(self) -> None:
        self._phase = "stopping"
        self._stopping.set()
        for callback in self._callbacks:
            callback()

    def stopping(self) -> bool:
        return self._stopping.is_set()
