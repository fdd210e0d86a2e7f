"""Connection rules: no connection holds a descriptor for long without a request to show for it.

uvicorn closes a kept-alive connection that sends nothing for ``timeout_keep_alive`` seconds,
but a connection that has not yet sent its complete request headers is never closed, even
when it sends one byte now and then, so idle or half-open connections pile up until the
process runs out of descriptors and nothing (``/v1/health`` included) is answered. Here,
in either of uvicorn's HTTP protocols (h11, httptools):

- the request headers must be complete within ``header_timeout`` seconds of the moment the
  connection began to wait for them (it opened, or its previous answer was sent), however
  the bytes trickle in; else the connection is closed. A request being answered (an event
  stream included, however long it lasts) is never cut by this rule;
- at most ``max_connections`` are open. A connection over the cap makes room by closing the
  open connection that has waited longest for its request; when every one is busy answering a
  request, the new one is closed at once.

asyncio accepts up to its listen backlog of connections at once, before any of them can make
room, so the backlog is :attr:`ConnectionGuard.accept_burst` (an eighth of the descriptor
limit, at most 2048) and the cap leaves that much free below the descriptor limit, besides
an eighth (at least 64) for the Runtime's stores, engines and tools: on 1,024 descriptors,
768 connections and bursts of 128. So the process never runs out of descriptors however many
connections come, and a new request always finds room.
"""

from __future__ import annotations

import asyncio
import resource
from collections import Counter
from typing import Any, Literal, TypeAlias

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is absent: only the h11 protocol is offered
    HttpToolsProtocol = H11Protocol  # type: ignore[misc,assignment]

#: Seconds a connection gets to send its complete request headers.
DEFAULT_HEADER_TIMEOUT = 10.0
#: Seconds a kept-alive connection may idle between requests (uvicorn's ``timeout_keep_alive``).
DEFAULT_KEEP_ALIVE_TIMEOUT = 5
#: Why the guard closed a connection (the label of ``yoi_http_connections_closed_total``).
CloseReason: TypeAlias = Literal["header_timeout", "evicted", "refused"]


def descriptor_limit() -> int:
    """This process's soft limit of open file descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def accept_burst(limit: int) -> int:
    """Connections asyncio accepts in one go (the listen backlog) under a descriptor limit."""
    return max(16, min(2048, limit // 8))


def _reserved(limit: int) -> int:
    """Descriptors the Runtime's stores, engines and tools keep."""
    return max(64, limit // 8)


class ConnectionGuard:
    """The connection rules of one server, and what they did (for ``/v1/metrics``)."""

    def __init__(
        self,
        *,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_connections: int | None = None,
    ) -> None:
        if not header_timeout > 0:
            raise ValueError("the header timeout must be a number of seconds > 0")
        limit = descriptor_limit()
        self.accept_burst = accept_burst(limit)
        highest = limit - self.accept_burst - _reserved(limit)
        if max_connections is not None and not 1 <= max_connections <= highest:
            raise ValueError(
                f"max connections must be from 1 to {highest}, well below this process's "
                f"descriptor limit ({limit})"
            )
        self.header_timeout = header_timeout
        self.max_connections = max_connections if max_connections is not None else highest
        self.open = 0
        self.closed: Counter[CloseReason] = Counter()

    def protocol_class(self, http: str = "h11") -> type[asyncio.Protocol]:
        """uvicorn's HTTP protocol with these rules, for ``uvicorn.Config(http=...)``: ``h11``,
        or ``httptools`` (its faster parser; ``auto`` picks it when installed)."""
        rules = self
        base: type[_Guarded]
        if http == "h11" or (http == "auto" and not _httptools_installed()):
            base = GuardedH11Protocol
        else:
            base = GuardedHttpToolsProtocol

        class Guarded(base):  # type: ignore[valid-type,misc]
            guard = rules

        return Guarded


def _httptools_installed() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


class _Guarded:
    """The rules, for either of uvicorn's HTTP protocols (mixed in before it)."""

    guard: ConnectionGuard
    # What uvicorn's protocols provide.
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    connections: set[Any]
    cycle: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        #: When the connection began to wait for its next request (loop time).
        self.waiting_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.guard.open += 1
        self._await_request()
        if len(self.connections) > self.guard.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        self.guard.open -= 1
        super().connection_lost(exc)  # type: ignore[misc]

    def waiting_for_request(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _await_request(self) -> None:
        self._stop_deadline()
        self.waiting_since = self.loop.time()
        self._header_deadline = self.loop.call_later(
            self.guard.header_timeout, self._close, "header_timeout"
        )

    def _stop_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _make_room(self) -> None:
        # Connections closed a moment ago stay in the set until the loop runs their close.
        live = [
            connection
            for connection in self.connections
            if isinstance(connection, _Guarded) and not connection.transport.is_closing()
        ]
        if len(live) <= self.guard.max_connections:
            return
        waiting = [
            connection
            for connection in live
            if connection is not self and connection.waiting_for_request()
        ]
        if waiting:
            min(waiting, key=lambda connection: connection.waiting_since)._close("evicted")
        else:
            self._close("refused")

    def _close(self, reason: CloseReason) -> None:
        if not self.transport.is_closing():
            self.guard.closed[reason] += 1
            self.transport.close()


class GuardedH11Protocol(_Guarded, H11Protocol):
    """uvicorn's h11 protocol with a deadline for request headers and a connection cap."""

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._stop_deadline()  # complete headers came: a request is being answered

    def on_response_complete(self) -> None:
        self._await_request()  # before uvicorn starts a pipelined request (which stops it)
        super().on_response_complete()


class GuardedHttpToolsProtocol(_Guarded, HttpToolsProtocol):
    """uvicorn's httptools protocol with the same rules."""

    def on_headers_complete(self) -> None:
        self._stop_deadline()  # complete headers came: a request is being answered
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request that was waiting is being answered now; else wait for the next.
        if self.waiting_for_request():
            self._await_request()
