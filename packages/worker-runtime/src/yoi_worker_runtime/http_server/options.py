"""How the REST adapter behaves: its options and the flag a graceful shutdown sets."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import attrs

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
        if not math.isfinite(self.max_event_wait) or self.max_event_wait < 0:
            raise ValueError("max_event_wait must be a finite number >= 0")
        if self.max_event_waiters < 1:
            raise ValueError("max_event_waiters must be at least 1")
        if not math.isfinite(self.stream_heartbeat) or self.stream_heartbeat < 1:
            raise ValueError("stream_heartbeat must be a number of seconds >= 1")
        if self.stream_buffer < 16:
            raise ValueError("stream_buffer must be at least 16")


class ShutdownFlag:
    """Set when the server begins a graceful shutdown; long-polls then answer at once and
    every callback registered with :meth:`on_set` runs (event streams end)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []

    def on_set(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self._event.is_set():
            callback()

    def set(self) -> None:
        self._event.set()
        for callback in self._callbacks:
            callback()

    def is_set(self) -> bool:
        return self._event.is_set()
