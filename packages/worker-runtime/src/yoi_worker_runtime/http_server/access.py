"""What every request leaves behind: a request id, its metrics, and an access log line.

:class:`RequestObserver` wraps the whole app, routing included, so a 404 or a 405 gets all three
too. The request id is the request's ``X-Request-ID`` when that is a sane token (1 to 128
characters of ``A-Z a-z 0-9 . _ : -``), else a generated one (32 hex digits). It is echoed in
the ``X-Request-ID`` response header, put in every error body (``error.request_id``) and in
the access log line, so a client's report and the server's log meet on it.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yoi_worker_runtime.http_server.logs import ACCESS_LOGGER
from yoi_worker_runtime.http_server.metrics import UNMATCHED, Metrics

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_logger = logging.getLogger(ACCESS_LOGGER)


def request_id_of(scope: Scope) -> str | None:
    """The id :class:`RequestObserver` gave the request (None outside of it)."""
    request_id: str | None = scope.get("state", {}).get("request_id")
    return request_id


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER.encode():
            given: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


def _printable(raw: bytes) -> str:
    """Request bytes for a log line: ASCII, control characters and quotes escaped."""
    return json.dumps(raw.decode("latin-1"))[1:-1]


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unix"


class RequestObserver:
    """ASGI middleware: request id, metrics by route template, access log."""

    def __init__(self, app: ASGIApp, routes: Sequence[Route], metrics: Metrics) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        arrived = time.perf_counter()
        status, answered = 500, arrived

        async def send_observed(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], time.perf_counter()
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = self._route(scope)
            self.metrics.request(scope["method"], route, status, answered - arrived)
            if access_logger.isEnabledFor(logging.INFO):
                _log(scope, route, status, request_id, time.perf_counter() - arrived)

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return route.path
        return UNMATCHED


def _log(scope: Scope, route: str, status: int, request_id: str, seconds: float) -> None:
    """``"GET /v1/workers HTTP/1.1"`` with status, duration, request id, route and client."""
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    fields = {
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "request_id": request_id,
        "route": route,
        "client": _client(scope),
    }
    version = scope.get("http_version", "1.1")
    access_logger.info(
        '"%s %s HTTP/%s"', scope["method"], _printable(target), version, extra={"fields": fields}
    )
