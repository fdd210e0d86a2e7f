"""The ASGI app: routing by the endpoint table, the checks every request passes, typed errors.

Every request goes the same way: the ``Host`` check, the token (unless the endpoint is public),
the query parameters the endpoint declares, its path parameters (UTF-8 text, no encoded ``/``;
the Worker id by the name rule), its body model (JSON without repeated keys, then the strict
codec); then its handler (:mod:`.handlers`) runs, and the value it returns is rendered as the
endpoint's reply. The order is fixed, so the first problem found is the one reported.
:mod:`.routes` holds the table, which the OpenAPI document (:mod:`.openapi`) is generated from
too. A path the table does not hold, with or without a trailing slash, is a JSON 404: never a
redirect (whose ``Location`` would come from the request's unchecked ``Host``).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

import anyio.to_thread
import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from yoi_worker_runtime.codec import from_json, to_json
from yoi_worker_runtime.errors import LeaseLost, WorkerNotFound, WorkerRuntimeError
from yoi_worker_runtime.http_server.access import RequestObserver, request_id_of
from yoi_worker_runtime.http_server.errors import UNAUTHORIZED_MESSAGE, ApiError
from yoi_worker_runtime.http_server.handlers import Call, Service, WithStatus
from yoi_worker_runtime.http_server.openapi import openapi_document
from yoi_worker_runtime.http_server.options import AppOptions, ServerState
from yoi_worker_runtime.http_server.routes import ENDPOINTS, Endpoint, Query
from yoi_worker_runtime.ids import validate_worker_name
from yoi_worker_runtime.runtime import Runtime

T = TypeVar("T")

logger = logging.getLogger("yoi_worker_runtime.http_server")

_UNSIGNED = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")
_JSON_TYPE = re.compile(r"application/json\s*(;.*)?", re.IGNORECASE)


def _render(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # A lone surrogate a client sent may come back in an error message: as its JSON escape.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    body = text.encode("utf-8", "backslashreplace")
    response = Response(body, status_code=status, media_type="application/json", headers=headers)
    response.headers["cache-control"] = "no-store"
    response.headers["x-content-type-options"] = "nosniff"
    return response


def _error_response(error: ApiError, request: Request) -> Response:
    return _render(error.body(request_id_of(request.scope)), error.status, error.headers)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _RepeatedKeyError(ValueError):
    pass


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: with a repeated key, two parsers could read
    two different requests (one keeps the first value, another the last)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _RepeatedKeyError(f"the key {key!r} is repeated in an object")
        document[key] = value
    return document


def _utf8(raw: bytes, what: str, code: str) -> str:
    """A percent-encoded part of the request target as text, or a typed 400 naming it."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(code, f"{what} is not UTF-8 text once percent-decoded") from None


class _Checks:
    """The checks of every request, configured by the app's options."""

    def __init__(self, runtime: Runtime, options: AppOptions) -> None:
        self.runtime = runtime
        self.options = options
        self._expected_auth = (
            b"bearer " + options.token.encode() if options.token is not None else None
        )

    def host(self, request: Request) -> None:
        allowed = self.options.allowed_hosts
        if allowed is None:
            return
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in allowed:
            raise ApiError("invalid_request", "invalid request: Host header is not a local name")

    def token(self, request: Request) -> None:
        if self._expected_auth is None:
            return
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        # The scheme is case-insensitive; the token is compared in constant time.
        given = given[:7].lower() + given[7:]
        if not hmac.compare_digest(given, self._expected_auth):
            raise ApiError(
                "unauthorized", UNAUTHORIZED_MESSAGE, headers={"www-authenticate": "Bearer"}
            )

    def query(self, request: Request, declared: tuple[Query, ...]) -> dict[str, Any]:
        """Every declared parameter's value; an unknown or repeated one is refused."""
        allowed = tuple(parameter.name for parameter in declared)
        found: dict[str, str] = {}
        for key, value in _query_items(request.scope.get("query_string", b"")):
            if key not in allowed:
                shown = ", ".join(allowed) if allowed else "none"
                raise ApiError(
                    "invalid_query", f"unknown query parameter {key!r}; allowed: {shown}"
                )
            if key in found:
                raise ApiError("invalid_query", f"query parameter {key!r} is given twice")
            found[key] = value
        return {
            parameter.name: self._value(parameter, found.get(parameter.name))
            for parameter in declared
        }

    def _value(self, parameter: Query, value: str | None) -> Any:
        schema = parameter.schema
        if value is None:
            return schema.get("default")
        name = parameter.name
        if schema["type"] == "integer":
            minimum, maximum = schema["minimum"], schema.get("maximum")
            if not _UNSIGNED.fullmatch(value) or (maximum is not None and int(value) > maximum):
                shown = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
                raise ApiError(
                    "invalid_query", f"{name} must be a whole number {shown}, got {value!r}"
                )
            return int(value)
        if schema["type"] == "number":
            # A number is a wait: at most the documented maximum and this server's.
            maximum = min(schema["maximum"], self.options.max_event_wait)
            if not _NUMBER.fullmatch(value) or float(value) > maximum:
                raise ApiError(
                    "invalid_query", f"{name} must be a number of seconds from 0 to {maximum:g}"
                )
            return float(value)
        if len(value) < schema.get("minLength", 0):
            raise ApiError(parameter.error, f"{name} must not be empty")
        pattern = schema.get("pattern")
        if pattern is not None and re.search(pattern, value) is None:
            raise ApiError(parameter.error, f"{name} must match {pattern}, got {value!r}")
        return value

    def path(self, request: Request, endpoint: Endpoint) -> None:
        """Each path parameter is UTF-8 text and holds no encoded ``/`` (which, decoded, would
        have routed the request elsewhere)."""
        raw_path = request.scope.get("raw_path")
        if raw_path is None:
            return
        raw_segments = raw_path.split(b"/")
        template = endpoint.path.split("/")
        if len(raw_segments) != len(template):
            raise ApiError("invalid_request", "invalid request: a path parameter holds a '/'")
        for part, raw in zip(template, raw_segments, strict=True):
            if part.startswith("{"):
                what = f"invalid request: path parameter {part[1:-1]}"
                _utf8(raw, what, "invalid_request")

    def worker_ref(self, request: Request) -> Any:
        worker_id = request.path_params["worker_id"]
        validate_worker_name(worker_id, what="worker id")  # InvalidWorkerId: 400
        return self.runtime.worker_ref(worker_id)

    async def body(self, request: Request, model: type[T], *, optional: bool) -> T | None:
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
            decoded = json.loads(
                bytes(data),
                parse_constant=_reject_constant,
                object_pairs_hook=_object_without_repeats,
            )
        except (ValueError, RecursionError) as exc:
            known = isinstance(exc, json.JSONDecodeError | _RepeatedKeyError)
            detail = str(exc) if known else "not valid JSON"
            raise ApiError("invalid_json", f"request body is not valid JSON: {detail}") from None
        return from_json(model, decoded)


def _query_items(raw: bytes) -> list[tuple[str, str]]:
    """The query string's name/value pairs, each strictly UTF-8 (``+`` is a space)."""
    items = []
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_key, _, raw_value = part.replace(b"+", b" ").partition(b"=")
        key = _utf8(raw_key, "a query parameter name", "invalid_query")
        items.append((key, _utf8(raw_value, f"query parameter {key!r}", "invalid_query")))
    return items


def _endpoint(
    endpoint: Endpoint, checks: _Checks, service: Service
) -> Callable[[Request], Awaitable[Response]]:
    """The starlette endpoint of one table entry: checks, handler, reply or typed error."""
    reply = endpoint.reply

    async def respond(request: Request) -> Response:
        ref = None
        try:
            checks.host(request)
            if not endpoint.public:
                checks.token(request)
            lost = service.runtime.lease_lost_reason
            if lost is not None and not endpoint.served_without_lease:
                raise LeaseLost(service.runtime.runtime_id, lost)
            query = checks.query(request, endpoint.query)
            checks.path(request, endpoint)
            ref = checks.worker_ref(request) if endpoint.names_worker else None
            body = None
            if endpoint.body is not None:
                optional = not endpoint.body_required
                body = await checks.body(request, endpoint.body, optional=optional)
            path = {key: value for key, value in request.path_params.items() if key != "worker_id"}
            call = Call(
                service=service,
                query=query,
                worker_ref=ref,
                body=body,
                path=path,
                headers={key.lower(): value for key, value in request.headers.items()},
            )
            value = await endpoint.handler(call)
            if isinstance(value, Response):
                return value  # a stream (or the metrics) answers for itself
            if isinstance(value, WithStatus):
                return _render(value.body, value.status)
            payload = {reply.key: to_json(value)} if reply.key is not None else value
            headers = {"location": endpoint.location(value)} if endpoint.location else None
            return _render(payload, reply.status, headers)
        except ApiError as error:
            return _error_response(error, request)
        except WorkerRuntimeError as error:
            if type(error) is WorkerNotFound and ref is not None:
                # Not here: the store may say which Runtime hosts it, for the client to follow.
                runtime = service.runtime
                error = await anyio.to_thread.run_sync(runtime.missing_worker_error, ref.worker_id)
            return _error_response(ApiError.from_runtime(error), request)
        except Exception:
            logger.exception(
                "unexpected error in %s %s (request %s)",
                request.method,
                endpoint.path,
                request_id_of(request.scope),
            )
            return _error_response(
                ApiError("internal_error", "internal error; the server log has the details"),
                request,
            )

    return respond


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
    return _error_response(error, request)


def create_app(
    runtime: Runtime,
    options: AppOptions | None = None,
    *,
    state: ServerState | None = None,
    **option_values: Any,
) -> ASGIApp:
    """The REST adapter for ``runtime`` as an ASGI app.

    Options come as an :class:`AppOptions` or as its fields by keyword
    (``create_app(runtime, token="...", max_body_bytes=4096)``). ``state`` is what a server
    process tells the app (its phase, for readiness and for long-polls to answer at once when
    it stops; the watched persistence and the connection guard, for their figures). The app
    never closes the Runtime; whoever opened it does.
    """
    if options is None:
        options = AppOptions(**option_values)
    elif option_values:
        options = attrs.evolve(options, **option_values)
    checks = _Checks(runtime, options)
    service = Service(runtime, options, state or ServerState(), openapi_document())
    routes = _merge_methods(
        [
            Route(endpoint.path, _endpoint(endpoint, checks, service), methods=[endpoint.method])
            for endpoint in ENDPOINTS
        ]
    )
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})
    app.router.redirect_slashes = False
    return RequestObserver(app, routes, service.metrics)


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
