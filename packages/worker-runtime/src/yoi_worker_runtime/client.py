# ruff: noqa: N818 - error names follow the Runtime's own (WorkerNotFound, RuntimeStopped)
"""A typed Python client for the Runtime's REST API (standard library only: no extra needed).

It returns the core's model objects and raises the core's typed errors, so code written against
:class:`yoi_worker_runtime.Runtime` reads the same against a remote one::

    from yoi_worker_runtime.client import RuntimeClient
    from yoi_worker_runtime import CreateWorkerRequest, TaskIntent, RuntimeDefaultProfile

    with RuntimeClient("http://127.0.0.1:8765", token="...") as client:
        request = CreateWorkerRequest(
            intent=TaskIntent(objective="triage"), profile=RuntimeDefaultProfile()
        )
        worker = client.create_worker(request)
        client.send_input(worker.worker_id, "hello")
        print(client.transcript(worker.worker_id).items)

URLs: ``http://HOST:PORT`` or ``http+unix://<percent-encoded socket path>`` (what the server's
ready line prints). One client keeps one connection; use one client per thread.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal, TypeAlias, TypeVar
from urllib.parse import quote, unquote, urlencode, urlsplit

import attrs

from yoi_worker_runtime import errors
from yoi_worker_runtime.codec import check_model, from_json, text_problem, to_json
from yoi_worker_runtime.errors import WorkerRuntimeError
from yoi_worker_runtime.model import (
    CreateWorkerRequest,
    EventBatch,
    EventCursor,
    InputKind,
    InterruptRequest,
    LifecycleRequest,
    OnBusy,
    RuntimeDiagnostic,
    RuntimeEvent,
    RuntimeLifecycleAck,
    RuntimeSummary,
    TranscriptProjection,
    TurnDetail,
    TurnInterruptAck,
    TurnTextDelta,
    WorkerDetail,
    WorkerInput,
    WorkerInteractionAck,
    WorkerLifecycleAck,
    WorkerPage,
    WorkerSummary,
)

T = TypeVar("T")

#: Environment variables the ``yoi worker`` commands (and :meth:`RuntimeClient.from_env`) read.
URL_ENV = "YOI_RUNTIME_URL"
TOKEN_ENV = "YOI_RUNTIME_TOKEN"  # noqa: S105 - a variable name, not a secret

#: A turn wait is asked for in slices no longer than this (below any server's maximum wait).
_TURN_WAIT_SLICE = 25.0
#: A broken stream is retried after this many seconds, doubling up to the maximum.
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 5.0

#: A kept-alive connection idle for longer than this is replaced before use: the server closes
#: idle connections after 5 seconds, and a request must never race that close.
_REUSE_SECONDS = 2.0

_CORE_ERRORS: dict[str, type[WorkerRuntimeError]] = {
    cls.code: cls
    for cls in (
        errors.RuntimeStopped,
        errors.RuntimeClosed,
        errors.WrongRuntime,
        errors.WrongRuntimeCursor,
        errors.WorkerNotFound,
        errors.WorkerHostedElsewhere,
        errors.WorkerOrphaned,
        errors.LeaseLost,
        errors.WorkerConflict,
        errors.LimitTooLarge,
        errors.InvalidRequest,
        errors.InvalidWorkerId,
        errors.WorkerNotRunning,
        errors.WorkerBusy,
        errors.UnknownProfile,
        errors.UnknownTool,
        errors.ToolNotAllowed,
        errors.TurnNotFound,
        errors.StoreIo,
        errors.InsufficientStorage,
        errors.StoreMissing,
        errors.StoreCorrupt,
    )
}


class RestError(WorkerRuntimeError):
    """An error the REST adapter itself reports (``not_found``, ``invalid_json``, ...)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class Unauthorized(RestError):
    """401: the token is missing or wrong (``YOI_RUNTIME_TOKEN``)."""


class RuntimeUnreachable(WorkerRuntimeError):
    """No answer from the Runtime at all: nothing listens there, or the connection broke."""

    code = "runtime_unreachable"


def _error_from(status: int, body: bytes) -> WorkerRuntimeError:
    """The typed error a REST error body names; core codes give the core's classes."""
    try:
        detail = json.loads(body)["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace").strip()[:200]
        return RestError("http_error", f"HTTP {status}: {text or 'no body'}", status)
    cls = _CORE_ERRORS.get(code)
    if cls is None:
        return (Unauthorized if status == 401 else RestError)(code, message, status)
    error = cls.__new__(cls)
    WorkerRuntimeError.__init__(error, message)
    if isinstance(error, errors.InvalidRequest):
        error.detail = message.removeprefix("invalid request: ")
    if isinstance(error, errors.WorkerHostedElsewhere):
        hosting_url = detail.get("hosting_url")
        error.hosting_runtime_id = str(detail.get("hosting_runtime_id") or "")
        error.hosting_url = hosting_url if isinstance(hosting_url, str) else None
    error.status = status  # type: ignore[attr-defined]
    return error


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


#: How many moves in a row a client follows before it reports the last one (a loop guard).
_MAX_MOVES = 3


class RuntimeClient:
    """One Runtime's REST API. Methods mirror :class:`yoi_worker_runtime.Runtime`, with Worker
    ids in place of WorkerRefs (the server supplies its own Runtime id).

    With ``follow_moves``, a call about a Worker that another Runtime sharing the store hosts
    now (``404 worker_hosted_elsewhere``) is made again at the URL that Runtime advertises,
    with the same token; a Worker stream continues there from the Worker's first event on its
    new host. Without it, such calls raise :class:`~yoi_worker_runtime.WorkerHostedElsewhere`,
    which names the host.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        follow_moves: bool = False,
    ) -> None:
        parts = urlsplit(url)
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.follow_moves = follow_moves
        self._moves = 0
        self._token = token
        self._unix_path: str | None = None
        if parts.scheme == "http+unix":
            self._unix_path = unquote(parts.netloc)
            if not self._unix_path:
                raise ValueError(f"no socket path in {url!r}")
        elif parts.scheme == "http" and parts.hostname:
            self._host = parts.hostname
            self._port = parts.port or 80
        else:
            raise ValueError(
                f"a Runtime URL is http://HOST:PORT or http+unix://SOCKET_PATH, got {url!r}"
            )
        self._prefix = parts.path.rstrip("/") if parts.scheme == "http" else ""
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    @classmethod
    def from_env(
        cls, url: str | None = None, *, timeout: float = 30.0, follow_moves: bool = False
    ) -> RuntimeClient:
        """A client for ``url`` (else ``$YOI_RUNTIME_URL``) with ``$YOI_RUNTIME_TOKEN``."""
        url = url or os.environ.get(URL_ENV)
        if not url:
            raise ValueError(f"no Runtime URL: pass one or set {URL_ENV}")
        token = os.environ.get(TOKEN_ENV) or None
        return cls(url, token=token, timeout=timeout, follow_moves=follow_moves)

    def _moved(self, error: WorkerRuntimeError) -> RuntimeClient | None:
        """A client for the Runtime that ``error`` says hosts the Worker now, when this one
        follows moves (None: not following, no URL to go to, or too many moves in a row)."""
        if (
            not self.follow_moves
            or type(error) is not errors.WorkerHostedElsewhere
            or not error.hosting_url
            or self._moves >= _MAX_MOVES
        ):
            return None
        try:
            other = RuntimeClient(
                error.hosting_url, token=self._token, timeout=self.timeout, follow_moves=True
            )
        except ValueError:
            return None  # an advertised URL this client cannot use
        other._moves = self._moves + 1
        return other

    @classmethod
    def for_unix_socket(cls, path: str, *, token: str | None = None) -> RuntimeClient:
        return cls("http+unix://" + quote(path, safe=""), token=token)

    # --- transport ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> RuntimeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._unix_path is not None:
            return _UnixConnection(self._unix_path, timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        query: dict[str, str] | None = None,
        extra_timeout: float = 0.0,
        also_ok: tuple[int, ...] = (),
    ) -> Any:
        """One request; returns the decoded JSON body of a 2xx answer (or of a status in
        ``also_ok``), raises a typed error otherwise. GETs are retried once on a kept-alive
        connection the server had closed."""
        for key, value in (query or {}).items():
            _check_text(value, f"query parameter {key}")
        target = self._prefix + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        timeout = self.timeout + extra_timeout
        for attempt in (1, 2):
            reused = self._connection is not None
            if reused and time.monotonic() - self._last_used > _REUSE_SECONDS:
                self.close()
                reused = False
            if self._connection is None:
                self._connection = self._connect(timeout)
            connection = self._connection
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            try:
                connection.request(method, target, body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if reused and method == "GET" and attempt == 1:
                    continue
                raise RuntimeUnreachable(
                    f"cannot reach the Runtime at {self.url}: {_reason(exc)}"
                ) from exc
            self._last_used = time.monotonic()
            if response.will_close:
                self.close()
            if 200 <= response.status < 300 or response.status in also_ok:
                return json.loads(data)
            error = _error_from(response.status, data)
            moved = self._moved(error)
            if moved is None:
                raise error
            with moved:  # the Worker lives elsewhere now: ask there
                return moved.request(
                    method, path, body, query=query, extra_timeout=extra_timeout, also_ok=also_ok
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, cls: type[T], key: str, path: str, **kwargs: Any) -> T:
        return from_json(cls, self.request("GET", path, **kwargs)[key])

    # --- the API ------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /v1/health`` (needs no token): ``{"status": "ok"}``, or ``"stopped"`` with a
        ``reason`` once the Runtime has stopped."""
        result: dict[str, Any] = self.request("GET", "/v1/health", also_ok=(503,))
        return result

    def ready(self) -> dict[str, Any]:
        """``GET /v1/ready`` (needs no token): ``{"status": "ready"}``, or why not (``starting``,
        ``stopping``, ``stopped``, ``store_failing``) with a ``reason``."""
        result: dict[str, Any] = self.request("GET", "/v1/ready", also_ok=(503,))
        return result

    def openapi(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/v1/openapi.json")
        return result

    def summary(self) -> RuntimeSummary:
        return self._get(RuntimeSummary, "runtime", "/v1/runtime")

    def diagnostics(self) -> list[RuntimeDiagnostic]:
        items = self.request("GET", "/v1/diagnostics")["diagnostics"]
        return [from_json(RuntimeDiagnostic, item) for item in items]

    def list_workers(self) -> list[WorkerSummary]:
        """Every Worker, ordered by id (page after page)."""
        found: list[WorkerSummary] = []
        after: str | None = None
        while True:
            page = self.worker_page(after=after)
            found += page.workers
            if page.next_after is None:
                return found
            after = page.next_after

    def worker_page(self, *, after: str | None = None, limit: int | None = None) -> WorkerPage:
        """One page of Workers: those after ``after``, at most ``limit``."""
        query = {}
        if after is not None:
            query["after"] = after
        if limit is not None:
            query["limit"] = str(limit)
        return from_json(WorkerPage, self.request("GET", "/v1/workers", query=query or None))

    def create_worker(self, request: CreateWorkerRequest) -> WorkerDetail:
        answer = self.request("POST", "/v1/workers", _body(request))
        return from_json(WorkerDetail, answer["worker"])

    def worker_detail(self, worker_id: str) -> WorkerDetail:
        return self._get(WorkerDetail, "worker", f"/v1/workers/{_segment(worker_id)}")

    def send_input(
        self,
        worker_id: str,
        content: str | WorkerInput,
        *,
        kind: InputKind = "user",
        on_busy: OnBusy | None = None,
    ) -> WorkerInteractionAck:
        worker_input = (
            content
            if isinstance(content, WorkerInput)
            else WorkerInput(kind=kind, content=content, on_busy=on_busy)
        )
        answer = self.request(
            "POST", f"/v1/workers/{_segment(worker_id)}/input", _body(worker_input)
        )
        return from_json(WorkerInteractionAck, answer["ack"])

    def stop_worker(self, worker_id: str, reason: str | None = None) -> WorkerLifecycleAck:
        return self._finish(worker_id, "stop", reason)

    def cancel_worker(self, worker_id: str, reason: str | None = None) -> WorkerLifecycleAck:
        return self._finish(worker_id, "cancel", reason)

    def _finish(self, worker_id: str, action: str, reason: str | None) -> WorkerLifecycleAck:
        body = _body(LifecycleRequest(reason=reason))
        answer = self.request("POST", f"/v1/workers/{_segment(worker_id)}/{action}", body)
        return from_json(WorkerLifecycleAck, answer["ack"])

    def interrupt_turn(self, worker_id: str, *, drop_queued: bool = False) -> TurnInterruptAck:
        """End the Worker's running turn as interrupted (the Worker keeps running)."""
        body = _body(InterruptRequest(drop_queued=drop_queued))
        answer = self.request("POST", f"/v1/workers/{_segment(worker_id)}/interrupt", body)
        return from_json(TurnInterruptAck, answer["ack"])

    def turn(self, worker_id: str, turn_id: str, *, wait: float = 0.0) -> TurnDetail:
        """A turn of the Worker; with ``wait`` the server holds the request (at most its
        ``--max-event-wait``) until the turn ends."""
        path = f"/v1/workers/{_segment(worker_id)}/turns/{_segment(turn_id, 'turn id')}"
        query = {"wait": repr(float(wait))} if wait else None
        return self._get(TurnDetail, "turn", path, query=query, extra_timeout=wait)

    def wait_for_turn(self, worker_id: str, turn_id: str, timeout: float) -> TurnDetail:
        """The turn once it has ended, or as it is when ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            turn = self.turn(worker_id, turn_id, wait=max(0.0, min(remaining, _TURN_WAIT_SLICE)))
            if turn.phase not in ("queued", "running") or remaining <= 0:
                return turn

    def stream_events(
        self, after: int | Literal["now"] | None = None, *, reconnect: bool = True
    ) -> Iterator[StreamMessage]:
        """Every event and text delta of the Runtime as it happens (``GET /v1/events/stream``),
        after event ``after`` (default: from now). See :meth:`stream_worker`."""
        return self._stream("/v1/events/stream", after, reconnect)

    def stream_worker(
        self,
        worker_id: str,
        after: int | Literal["now"] | None = None,
        *,
        reconnect: bool = True,
    ) -> Iterator[StreamMessage]:
        """One Worker's events and text deltas as they happen. Yields RuntimeEvent and
        TurnTextDelta objects, and StreamNote for the server's notes (``deltas_dropped``,
        ``lagged``, ``shutdown``). When the connection drops, the server lags or restarts,
        it reconnects on its own (with backoff) from the last event it yielded, so no durable
        event is missed or repeated; deltas sent while it was away are lost by design."""
        return self._stream(f"/v1/workers/{_segment(worker_id)}/stream", after, reconnect)

    def _stream(
        self, path: str, after: int | Literal["now"] | None, reconnect: bool
    ) -> Iterator[StreamMessage]:
        last = "now" if after is None else str(after)
        backoff = _BACKOFF_FIRST
        while True:
            try:
                for message in self._stream_once(path, last):
                    if isinstance(message, RuntimeEvent):
                        last = str(message.id)
                    backoff = _BACKOFF_FIRST
                    yield message
            except RuntimeUnreachable:
                if not reconnect:
                    raise
            except WorkerRuntimeError as error:
                moved = self._moved(error)
                if moved is None:
                    raise
                # Event ids are each Runtime's own: start from the Worker's first one there.
                yield from moved._stream(path, 0, reconnect)
                return
            if not reconnect:
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    def _stream_once(self, path: str, after: str) -> Iterator[StreamMessage]:
        """One connection's messages, until the server ends the stream or it breaks."""
        headers = {"Accept": "text/event-stream"}
        if after != "now":
            headers["Last-Event-ID"] = after
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        connection = self._connect(self.timeout)
        try:
            try:
                connection.request("GET", self._prefix + path, headers=headers)
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise RuntimeUnreachable(
                    f"cannot reach the Runtime at {self.url}: {_reason(exc)}"
                ) from exc
            if response.status != 200:
                raise _error_from(response.status, response.read())
            yield from _read_events(response, self.url)
        finally:
            connection.close()

    def stop_runtime(self) -> RuntimeLifecycleAck:
        return from_json(RuntimeLifecycleAck, self.request("POST", "/v1/runtime/stop")["ack"])

    def transcript(
        self, worker_id: str, *, start: int = 0, limit: int | None = None
    ) -> TranscriptProjection:
        query = {"start": str(start)}
        if limit is not None:
            query["limit"] = str(limit)
        path = f"/v1/workers/{_segment(worker_id)}/transcript"
        return self._get(TranscriptProjection, "transcript", path, query=query)

    def events(
        self,
        cursor: EventCursor | Literal["start", "now"] = "start",
        limit: int | None = None,
        wait: float = 0.0,
    ) -> EventBatch:
        """Events from ``cursor`` on (a batch's ``cursor``, ``"start"`` or ``"now"``). With
        ``wait`` > 0 the server holds the request until an event arrives or ``wait`` passes."""
        if isinstance(cursor, EventCursor):
            query = {"cursor": str(cursor.next_event_id), "runtime_id": cursor.runtime_id}
        else:
            query = {"cursor": cursor}
        if limit is not None:
            query["limit"] = str(limit)
        if wait:
            query["wait"] = repr(float(wait))
        return self._get(EventBatch, "batch", "/v1/events", query=query, extra_timeout=wait)


@attrs.frozen
class StreamNote:
    """A note of the stream itself, not of the Runtime: ``deltas_dropped`` (``data["count"]``),
    ``lagged`` or ``shutdown`` (``data["last_event_id"]``)."""

    kind: str
    data: dict[str, Any]


StreamMessage: TypeAlias = RuntimeEvent | TurnTextDelta | StreamNote


def _read_events(response: http.client.HTTPResponse, url: str) -> Iterator[StreamMessage]:
    """Parse Server-Sent Events: ``event:``/``data:`` lines up to a blank line; comments
    (heartbeats) are skipped."""
    kind, data = "message", ""
    while True:
        try:
            raw = response.readline()
        except (OSError, http.client.HTTPException) as exc:
            raise RuntimeUnreachable(f"the stream from {url} broke: {_reason(exc)}") from exc
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith(":"):
            continue
        if line:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data = value if not data else data + "\n" + value
            continue
        if data:
            document = json.loads(data)
            if kind == "text_delta":
                yield from_json(TurnTextDelta, document)
            elif kind in ("deltas_dropped", "lagged", "shutdown"):
                yield StreamNote(kind, document)
            else:
                yield from_json(RuntimeEvent, document)
        kind, data = "message", ""


def _body(request: object) -> Any:
    """A request model as JSON, checked first: a request the server would refuse is not sent."""
    check_model(request)
    return to_json(request)


def _check_text(value: str, what: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        raise errors.InvalidRequest(f"{what} {problem}")


def _segment(value: str, what: str = "worker id") -> str:
    """A path parameter, percent-encoded (as UTF-8, so it must be text)."""
    _check_text(value, what)
    return quote(value, safe="")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


__all__ = [
    "TOKEN_ENV",
    "URL_ENV",
    "RestError",
    "RuntimeClient",
    "RuntimeUnreachable",
    "StreamMessage",
    "StreamNote",
    "Unauthorized",
]
