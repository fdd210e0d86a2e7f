"""The ASGI app: routes, request parsing, the token check and typed JSON errors.

Every handler parses its input, calls one Runtime method and renders the model with
``to_json``. What a Worker is and how it behaves lives in the Runtime alone.

Store I/O never runs on the event loop. Mutations write through the Runtime's persistence, so
they run in a worker thread. Reads run inline: the Runtime serves them from memory under a lock
held only for short, I/O-free sections (never behind a store write), so they cannot block the
loop, and a thread hop would cost more than the read itself. With the ``memory`` backend
nothing touches a store at all, and mutations run inline too. Long-poll waits always get a
thread of their own pool.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from yoi_worker_runtime.codec import from_json, to_json
from yoi_worker_runtime.errors import WorkerRuntimeError
from yoi_worker_runtime.http_server.errors import UNAUTHORIZED_MESSAGE, ApiError
from yoi_worker_runtime.http_server.openapi import openapi_document
from yoi_worker_runtime.ids import validate_worker_name
from yoi_worker_runtime.model import (
    CreateWorkerRequest,
    EventBatch,
    EventCursor,
    LifecycleRequest,
    WorkerInput,
)
from yoi_worker_runtime.runtime import Runtime

T = TypeVar("T")

logger = logging.getLogger("yoi_worker_runtime.http_server")

#: Default request body limit: 1 MiB.
DEFAULT_MAX_BODY_BYTES = 1 << 20
#: Default upper bound of ``GET /v1/events?wait=`` in seconds.
DEFAULT_MAX_EVENT_WAIT = 30.0
#: Default number of long-polls that may wait at once (each holds a worker thread).
DEFAULT_MAX_EVENT_WAITERS = 64
#: A long-poll waits in slices this long, so a shutdown never waits for a full ``wait``.
_WAIT_SLICE = 0.25

_UNSIGNED = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")
_JSON_TYPE = re.compile(r"application/json\s*(;.*)?", re.IGNORECASE)


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

    def __attrs_post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("the bearer token must not be blank")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        if not math.isfinite(self.max_event_wait) or self.max_event_wait < 0:
            raise ValueError("max_event_wait must be a finite number >= 0")
        if self.max_event_waiters < 1:
            raise ValueError("max_event_waiters must be at least 1")


class ShutdownFlag:
    """Set when the server begins a graceful shutdown; long-polls then answer at once."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def _render(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(body, status_code=status, media_type="application/json", headers=headers)
    response.headers["cache-control"] = "no-store"
    response.headers["x-content-type-options"] = "nosniff"
    return response


def _error_response(error: ApiError) -> Response:
    return _render(error.body(), error.status, error.headers)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _Handlers:
    def __init__(self, runtime: Runtime, options: AppOptions, shutdown: ShutdownFlag) -> None:
        self.runtime = runtime
        self.options = options
        self.shutdown = shutdown
        self._expected_auth = (
            b"bearer " + options.token.encode() if options.token is not None else None
        )
        self._wait_limiter: anyio.CapacityLimiter | None = None
        self._inline_mutations = runtime.backend == "memory"
        self.openapi = openapi_document(runtime, options)

    # --- plumbing -----------------------------------------------------------------------------

    def route(
        self,
        path: str,
        handler: Callable[[Request], Awaitable[Response]],
        methods: list[str],
        *,
        public: bool = False,
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                self._check_host(request)
                if not public:
                    self._authorize(request)
                return await handler(request)
            except ApiError as error:
                return _error_response(error)
            except WorkerRuntimeError as error:
                return _error_response(ApiError.from_runtime(error))
            except Exception:
                logger.exception("unexpected error in %s %s", request.method, path)
                return _error_response(
                    ApiError("internal_error", "internal error; the server log has the details")
                )

        return Route(path, endpoint, methods=methods)

    def _check_host(self, request: Request) -> None:
        allowed = self.options.allowed_hosts
        if allowed is None:
            return
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in allowed:
            raise ApiError("invalid_request", "invalid request: Host header is not a local name")

    def _authorize(self, request: Request) -> None:
        if self._expected_auth is None:
            return
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        # The scheme is case-insensitive; the token is compared in constant time.
        given = given[:7].lower() + given[7:]
        if not hmac.compare_digest(given, self._expected_auth):
            raise ApiError(
                "unauthorized", UNAUTHORIZED_MESSAGE, headers={"www-authenticate": "Bearer"}
            )

    async def mutate(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a Runtime mutation in a worker thread: store I/O never blocks the event loop."""
        if self._inline_mutations:
            return function(*args, **kwargs)
        return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))

    def query(self, request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            if key not in allowed:
                shown = ", ".join(allowed) if allowed else "none"
                raise ApiError(
                    "invalid_query", f"unknown query parameter {key!r}; allowed: {shown}"
                )
            if key in found:
                raise ApiError("invalid_query", f"query parameter {key!r} is given twice")
            found[key] = value
        return found

    @staticmethod
    def query_int(params: dict[str, str], key: str, minimum: int) -> int | None:
        value = params.get(key)
        if value is None:
            return None
        if not _UNSIGNED.fullmatch(value):
            raise ApiError(
                "invalid_query", f"{key} must be a whole number >= {minimum}, got {value!r}"
            )
        return int(value)

    def worker_ref_of(self, request: Request) -> Any:
        worker_id = request.path_params["worker_id"]
        validate_worker_name(worker_id, what="worker id")  # InvalidWorkerId: 400
        return self.runtime.worker_ref(worker_id)

    async def body(self, request: Request, model: type[T], *, optional: bool = False) -> T | None:
        """The request body as ``model``: size limit (413), JSON content type (415), JSON
        syntax (400 invalid_json), then the strict codec (400 invalid_request)."""
        limit = self.options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError("payload_too_large", f"request body exceeds the limit of {limit} bytes")
        content_type = request.headers.get("content-type")
        if content_type is None and optional and declared in (None, "0"):
            return None
        if content_type is None or not _JSON_TYPE.fullmatch(content_type.strip()):
            raise ApiError(
                "unsupported_media_type",
                f"request body must be application/json, got {content_type or 'no content type'}",
            )
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:
                raise ApiError(
                    "payload_too_large", f"request body exceeds the limit of {limit} bytes"
                )
        if not data.strip() and optional:
            return None
        try:
            decoded = json.loads(bytes(data), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            detail = str(exc) if isinstance(exc, json.JSONDecodeError) else "not valid JSON"
            raise ApiError("invalid_json", f"request body is not valid JSON: {detail}") from None
        return from_json(model, decoded)

    # --- handlers -----------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        self.query(request, ())
        return _render({"status": "ok"})

    async def openapi_json(self, request: Request) -> Response:
        self.query(request, ())
        return _render(self.openapi)

    async def runtime_summary(self, request: Request) -> Response:
        self.query(request, ())
        return _render({"runtime": to_json(self.runtime.summary())})

    async def stop_runtime(self, request: Request) -> Response:
        self.query(request, ())
        await self.body(request, LifecycleRequest, optional=True)
        return _render({"ack": to_json(await self.mutate(self.runtime.stop_runtime))})

    async def diagnostics(self, request: Request) -> Response:
        self.query(request, ())
        found = self.runtime.diagnostics()
        return _render({"diagnostics": [to_json(item) for item in found]})

    async def list_workers(self, request: Request) -> Response:
        self.query(request, ())
        workers = self.runtime.list_workers()
        return _render({"workers": [to_json(item) for item in workers]})

    async def create_worker(self, request: Request) -> Response:
        self.query(request, ())
        create = await self.body(request, CreateWorkerRequest)
        detail = await self.mutate(self.runtime.create_worker, create)
        location = f"/v1/workers/{detail.worker_id}"
        return _render({"worker": to_json(detail)}, 201, {"location": location})

    async def worker_detail(self, request: Request) -> Response:
        self.query(request, ())
        ref = self.worker_ref_of(request)
        return _render({"worker": to_json(self.runtime.worker_detail(ref))})

    async def send_input(self, request: Request) -> Response:
        self.query(request, ())
        ref = self.worker_ref_of(request)
        worker_input = await self.body(request, WorkerInput)
        ack = await self.mutate(self.runtime.send_input, ref, worker_input)
        return _render({"ack": to_json(ack)})

    async def stop_worker(self, request: Request) -> Response:
        return await self._finish(request, self.runtime.stop_worker)

    async def cancel_worker(self, request: Request) -> Response:
        return await self._finish(request, self.runtime.cancel_worker)

    async def _finish(self, request: Request, operation: Callable[..., Any]) -> Response:
        self.query(request, ())
        ref = self.worker_ref_of(request)
        lifecycle = await self.body(request, LifecycleRequest, optional=True)
        reason = lifecycle.reason if lifecycle is not None else None
        return _render({"ack": to_json(await self.mutate(operation, ref, reason))})

    async def transcript(self, request: Request) -> Response:
        params = self.query(request, ("start", "limit"))
        start = self.query_int(params, "start", 0)
        limit = self.query_int(params, "limit", 1)
        ref = self.worker_ref_of(request)
        projection = self.runtime.transcript_projection(
            ref, start=start if start is not None else 0, limit=limit
        )
        return _render({"transcript": to_json(projection)})

    async def events(self, request: Request) -> Response:
        params = self.query(request, ("cursor", "runtime_id", "limit", "wait"))
        limit = self.query_int(params, "limit", 1)
        wait = self._wait_of(params)
        cursor_text = params.get("cursor", "start")
        if cursor_text == "start":
            cursor = self.runtime.event_cursor_from_start()
        elif cursor_text == "now":
            cursor = self.runtime.event_cursor_now()
        elif _UNSIGNED.fullmatch(cursor_text):
            cursor = EventCursor(
                runtime_id=params.get("runtime_id", self.runtime.runtime_id),
                next_event_id=int(cursor_text),
            )
        else:
            raise ApiError(
                "invalid_query",
                f"cursor must be 'start', 'now' or an event id, got {cursor_text!r}",
            )
        if "runtime_id" in params and cursor_text in ("start", "now"):
            cursor = attrs.evolve(cursor, runtime_id=params["runtime_id"])
        batch = self.runtime.read_events(cursor, limit)
        if batch.events or wait == 0:
            return _render({"batch": to_json(batch)})
        return _render({"batch": to_json(await self._long_poll(cursor, limit, wait))})

    def _wait_of(self, params: dict[str, str]) -> float:
        value = params.get("wait")
        if value is None:
            return 0.0
        maximum = self.options.max_event_wait
        if not _NUMBER.fullmatch(value) or float(value) > maximum:
            raise ApiError(
                "invalid_query", f"wait must be a number of seconds from 0 to {maximum:g}"
            )
        return float(value)

    async def _long_poll(self, cursor: EventCursor, limit: int | None, wait: float) -> EventBatch:
        """``Runtime.wait_for_events`` in a worker thread of its own pool, in short slices, so
        that a graceful shutdown answers waiting clients at once instead of after ``wait``."""
        if self._wait_limiter is None:
            self._wait_limiter = anyio.CapacityLimiter(self.options.max_event_waiters)
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            step = max(0.0, min(remaining, _WAIT_SLICE))
            batch = await anyio.to_thread.run_sync(
                partial(self.runtime.wait_for_events, cursor, step, limit),
                limiter=self._wait_limiter,
            )
            if batch.events or remaining <= _WAIT_SLICE or self.shutdown.is_set():
                return batch
            if self.runtime.status == "stopped" or self.runtime.closed:
                return batch


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (wrong method), as typed JSON errors."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        assert isinstance(exc, HTTPException)
        allow = (exc.headers or {}).get("Allow", "")
        error = ApiError(
            "method_not_allowed",
            f"method {request.method} is not allowed on {request.url.path}; allowed: {allow}",
            headers={"allow": allow},
        )
    elif status == 404:
        error = ApiError("not_found", f"no such endpoint: {request.url.path}")
    else:
        error = ApiError("internal_error", "internal error; the server log has the details")
    return _error_response(error)


def create_app(
    runtime: Runtime,
    options: AppOptions | None = None,
    *,
    shutdown: ShutdownFlag | None = None,
    **option_values: Any,
) -> ASGIApp:
    """The REST adapter for ``runtime`` as an ASGI app.

    Options come as an :class:`AppOptions` or as its fields by keyword
    (``create_app(runtime, token="...", max_body_bytes=4096)``). ``shutdown`` lets a server tell
    long-polls that it is stopping. The app never closes the Runtime; whoever opened it does.
    """
    if options is None:
        options = AppOptions(**option_values)
    elif option_values:
        options = attrs.evolve(options, **option_values)
    handlers = _Handlers(runtime, options, shutdown or ShutdownFlag())
    route = handlers.route
    routes = [
        route("/v1/health", handlers.health, ["GET"], public=True),
        route("/v1/openapi.json", handlers.openapi_json, ["GET"], public=True),
        route("/v1/runtime", handlers.runtime_summary, ["GET"]),
        route("/v1/runtime/stop", handlers.stop_runtime, ["POST"]),
        route("/v1/diagnostics", handlers.diagnostics, ["GET"]),
        route("/v1/events", handlers.events, ["GET"]),
        route("/v1/workers", handlers.list_workers, ["GET"]),
        route("/v1/workers", handlers.create_worker, ["POST"]),
        route("/v1/workers/{worker_id}", handlers.worker_detail, ["GET"]),
        route("/v1/workers/{worker_id}/input", handlers.send_input, ["POST"]),
        route("/v1/workers/{worker_id}/stop", handlers.stop_worker, ["POST"]),
        route("/v1/workers/{worker_id}/cancel", handlers.cancel_worker, ["POST"]),
        route("/v1/workers/{worker_id}/transcript", handlers.transcript, ["GET"]),
    ]
    return Starlette(
        routes=_merge_methods(routes), exception_handlers={HTTPException: _http_exception}
    )


def _merge_methods(routes: list[Route]) -> list[Route]:
    """One Route per path, dispatching by method, so a 405 names every allowed method."""
    by_path: dict[str, list[Route]] = {}
    for item in routes:
        by_path.setdefault(item.path, []).append(item)
    merged = []
    for path, group in by_path.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        endpoints = {
            method: item.endpoint for item in group for method in (item.methods or ()) if method
        }

        async def dispatch(
            request: Request, endpoints: dict[str, Callable[..., Any]] = endpoints
        ) -> Response:
            response: Response = await endpoints[request.method](request)
            return response

        merged.append(Route(path, dispatch, methods=sorted(endpoints)))
    return merged
