"""The REST API, each endpoint declared once.

:data:`ENDPOINTS` says, for every method and path, which handler answers, what it reads (query
parameters, a Worker id in the path, a body model) and what it answers (status, body key and
model, error statuses), whether it needs the token, and how the document describes it. The app
(:mod:`.app`) routes and checks requests by this table, and the OpenAPI document
(:mod:`.openapi`) is generated from it, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from yoi_worker_runtime.http_server import handlers
from yoi_worker_runtime.http_server.handlers import Call
from yoi_worker_runtime.http_server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from yoi_worker_runtime.http_server.options import MAX_EVENT_WAIT, MAX_PAGE_ITEMS
from yoi_worker_runtime.model import (
    CreateWorkerRequest,
    EventBatch,
    InterruptRequest,
    LifecycleRequest,
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
)
from yoi_worker_runtime.schema import COMPONENTS_PREFIX

#: The path parameter that names a Worker; the app checks it with the Worker name rule.
WORKER_ID = "{worker_id}"
#: The path parameter that names a turn of that Worker.
TURN_ID = "{turn_id}"


def ref(model: type[Any] | str) -> dict[str, str]:
    """A reference to a component schema (a model class or a component's name)."""
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": COMPONENTS_PREFIX + name}


def array_of(model: type[Any]) -> dict[str, Any]:
    return {"type": "array", "items": ref(model)}


@attrs.frozen(kw_only=True)
class Query:
    """A query parameter. The app parses it by its schema: an ``integer`` as a whole number
    from ``minimum`` to ``maximum``, a ``number`` as seconds from 0 to ``maximum`` and to the
    server's ``--max-event-wait``, a ``string`` as is once it meets its ``minLength`` and
    ``pattern``; an absent one is the schema's ``default``, else None. A ``maximum`` is the
    documented one, the same on every server: an integer under it but over this server's own
    maximum reaches the Runtime, which answers ``limit_too_large``. A value its schema refuses
    is answered with ``error`` (400)."""

    name: str
    description: str
    schema: dict[str, Any]
    error: str = attrs.field(default="invalid_query", kw_only=True)


@attrs.frozen
class Reply:
    """The success answer: ``{key: value}``, or the value itself when ``key`` is None.
    ``schema`` describes the value. A ``text/event-stream`` reply is the handler's own
    streaming response; ``schema`` then describes one event's data."""

    status: int
    description: str
    schema: dict[str, Any]
    key: str | None = None
    media_type: str = "application/json"


@attrs.frozen
class Endpoint:
    method: str
    path: str
    handler: Callable[[Call], Awaitable[Any]]
    operation_id: str = attrs.field(kw_only=True)
    summary: str = attrs.field(kw_only=True)
    reply: Reply = attrs.field(kw_only=True)
    #: Error statuses besides those every endpoint can answer (400, 500; 401 unless public;
    #: 413 and 415 with a body).
    errors: tuple[int, ...] = attrs.field(default=(), kw_only=True)
    #: Answers besides ``reply`` that are not errors (a probe's 503); the handler returns a
    #: :class:`~.handlers.WithStatus` for them.
    other_replies: tuple[Reply, ...] = attrs.field(default=(), kw_only=True)
    query: tuple[Query, ...] = attrs.field(default=(), kw_only=True)
    body: type[Any] | None = attrs.field(default=None, kw_only=True)
    body_required: bool = attrs.field(default=True, kw_only=True)
    #: Answered without the bearer token.
    public: bool = attrs.field(default=False, kw_only=True)
    #: Answered also once the Runtime lost its hosting lease (probes, metrics, diagnostics);
    #: every other endpoint then answers 503 lease_lost.
    served_without_lease: bool = attrs.field(default=False, kw_only=True)
    #: The ``Location`` header of the answer, from the handler's value.
    location: Callable[[Any], str] | None = attrs.field(default=None, kw_only=True)

    @property
    def names_worker(self) -> bool:
        return WORKER_ID in self.path

    @property
    def names_turn(self) -> bool:
        return TURN_ID in self.path


_AFTER = Query(
    name="after",
    description="Replay the durable events after this id first: 'now' (the default: only what "
    "comes next), 0 (from the first event) or an event id; the Last-Event-ID header, when "
    "given, wins. An id past the last event's is refused: 400 invalid_cursor",
    schema={"type": "string", "pattern": "^(now|[0-9]+)$", "default": "now"},
    error="invalid_cursor",
)


def _limit(what: str) -> Query:
    return Query(
        name="limit",
        description=f"{what}; default: this server's maximum (256 unless configured, never "
        f"above {MAX_PAGE_ITEMS}); over it: 400 limit_too_large",
        schema={"type": "integer", "minimum": 1, "maximum": MAX_PAGE_ITEMS},
    )


def _wait(what: str) -> Query:
    return Query(
        name="wait",
        description=f"{what}. At most this server's --max-event-wait (30 unless configured, "
        f"never above {MAX_EVENT_WAIT:g}); over it: 400 invalid_query",
        schema={"type": "number", "minimum": 0, "maximum": MAX_EVENT_WAIT, "default": 0},
    )


_STREAM_TEXT = (
    "Server-Sent Events. A durable event comes as `id: <event id>`, `event: <kind>` and `data: "
    "<the event as in /v1/events>`; a text delta as `event: text_delta` with a TurnTextDelta and "
    "no id, so Last-Event-ID always names a durable event. Notes without id: `deltas_dropped` "
    "({count}) when a slow reader's buffer dropped deltas, `lagged` ({last_event_id}) when it "
    "would drop an event (the stream ends: resume from that id), `shutdown` ({last_event_id}) "
    "when the server stops. A comment line comes first, then one per idle heartbeat interval. "
    "For trusted backends that relay to browsers; browsers never talk to the Runtime."
)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        "/v1/health",
        handlers.health,
        operation_id="health",
        summary="Liveness: 200 while the Runtime serves, 503 once it has stopped or lost its "
        "hosting lease (no token needed)",
        reply=Reply(200, "The Runtime serves", ref("HealthBody")),
        other_replies=(
            Reply(
                503, "The Runtime has stopped or lost its lease; reason says why", ref("HealthBody")
            ),
        ),
        public=True,
        served_without_lease=True,
    ),
    Endpoint(
        "GET",
        "/v1/ready",
        handlers.ready,
        operation_id="ready",
        summary="Readiness: 200 when requests can be served, 503 while the server starts or "
        "stops, once the Runtime has stopped, or while the store fails (no token needed)",
        reply=Reply(200, "Ready", ref("ReadyBody")),
        other_replies=(Reply(503, "Not ready; status and reason say why", ref("ReadyBody")),),
        public=True,
        served_without_lease=True,
    ),
    Endpoint(
        "GET",
        "/v1/metrics",
        handlers.metrics,
        operation_id="metrics",
        summary="The server's metrics in the Prometheus text format",
        reply=Reply(200, "Metrics", {"type": "string"}, media_type=METRICS_CONTENT_TYPE),
        served_without_lease=True,
    ),
    Endpoint(
        "GET",
        "/v1/openapi.json",
        handlers.openapi,
        operation_id="openapi",
        summary="This document (no token needed)",
        reply=Reply(200, "The OpenAPI document", {"type": "object"}),
        public=True,
        served_without_lease=True,
    ),
    Endpoint(
        "GET",
        "/v1/runtime",
        handlers.runtime_summary,
        operation_id="getRuntime",
        summary="The Runtime's summary",
        reply=Reply(200, "Summary", ref(RuntimeSummary), key="runtime"),
    ),
    Endpoint(
        "POST",
        "/v1/runtime/stop",
        handlers.stop_runtime,
        operation_id="stopRuntime",
        summary="Stop every running Worker, then the Runtime; reads keep working",
        reply=Reply(200, "Stopped", ref(RuntimeLifecycleAck), key="ack"),
        errors=(409,),
        body=LifecycleRequest,
        body_required=False,
    ),
    Endpoint(
        "GET",
        "/v1/diagnostics",
        handlers.diagnostics,
        operation_id="getDiagnostics",
        summary="The Runtime's diagnostics",
        reply=Reply(200, "Diagnostics", array_of(RuntimeDiagnostic), key="diagnostics"),
        served_without_lease=True,
    ),
    Endpoint(
        "GET",
        "/v1/events",
        handlers.events,
        operation_id="getEvents",
        summary="Events from a cursor on, optionally waiting for the next one (long-poll)",
        reply=Reply(200, "A batch of events", ref(EventBatch), key="batch"),
        query=(
            Query(
                name="cursor",
                description="'start' (event 1), 'now' (only later events) or the id of the "
                "next event to read (a batch's cursor.next_event_id); an id past the next "
                "event's is refused: 400 invalid_request",
                schema={"type": "string", "pattern": "^(start|now|[0-9]+)$", "default": "start"},
            ),
            Query(
                name="runtime_id",
                description="The cursor's Runtime (a batch's cursor.runtime_id); another "
                "Runtime's cursor is refused with wrong_runtime_cursor",
                schema={"type": "string"},
            ),
            _limit("Batch size"),
            _wait(
                "Seconds to wait for an event when there is none yet (long-poll); the answer "
                "comes as soon as one arrives"
            ),
        ),
    ),
    Endpoint(
        "GET",
        "/v1/workers",
        handlers.list_workers,
        operation_id="listWorkers",
        summary="A page of the Workers, ordered by id",
        reply=Reply(200, "Workers, and where the next page starts", ref(WorkerPage)),
        query=(
            Query(
                name="after",
                description="Start after this worker id (a page's next_after)",
                schema={"type": "string", "minLength": 1},
            ),
            _limit("Page size"),
        ),
    ),
    Endpoint(
        "POST",
        "/v1/workers",
        handlers.create_worker,
        operation_id="createWorker",
        summary="Create a Worker (or restore the one a persistent store kept under its name)",
        reply=Reply(201, "Created", ref(WorkerDetail), key="worker"),
        errors=(409,),
        body=CreateWorkerRequest,
        location=lambda worker: f"/v1/workers/{worker.worker_id}",
    ),
    Endpoint(
        "GET",
        "/v1/workers/{worker_id}",
        handlers.worker_detail,
        operation_id="getWorker",
        summary="One Worker in detail",
        reply=Reply(200, "The Worker", ref(WorkerDetail), key="worker"),
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/v1/workers/{worker_id}/input",
        handlers.send_input,
        operation_id="sendInput",
        summary="Append user or system input to a running Worker's transcript",
        reply=Reply(200, "Accepted", ref(WorkerInteractionAck), key="ack"),
        errors=(404, 409),
        body=WorkerInput,
    ),
    Endpoint(
        "POST",
        "/v1/workers/{worker_id}/stop",
        handlers.stop_worker,
        operation_id="stopWorker",
        summary="Stop a Worker (a second stop or cancel changes nothing)",
        reply=Reply(200, "Stopped", ref(WorkerLifecycleAck), key="ack"),
        errors=(404, 409),
        body=LifecycleRequest,
        body_required=False,
    ),
    Endpoint(
        "POST",
        "/v1/workers/{worker_id}/cancel",
        handlers.cancel_worker,
        operation_id="cancelWorker",
        summary="Cancel a Worker (a second stop or cancel changes nothing)",
        reply=Reply(200, "Cancelled", ref(WorkerLifecycleAck), key="ack"),
        errors=(404, 409),
        body=LifecycleRequest,
        body_required=False,
    ),
    Endpoint(
        "GET",
        "/v1/workers/{worker_id}/transcript",
        handlers.transcript,
        operation_id="getTranscript",
        summary="One page of a Worker's transcript",
        reply=Reply(200, "A page", ref(TranscriptProjection), key="transcript"),
        errors=(404,),
        query=(
            Query(
                name="start",
                description="0-based index of the first entry",
                schema={"type": "integer", "minimum": 0, "default": 0},
            ),
            _limit("Page size"),
        ),
    ),
    Endpoint(
        "POST",
        "/v1/workers/{worker_id}/interrupt",
        handlers.interrupt_turn,
        operation_id="interruptTurn",
        summary="End the running turn as interrupted; the Worker keeps running and its queued "
        "inputs then run unless drop_queued",
        reply=Reply(
            200, "Interrupted (changed false: no turn ran)", ref(TurnInterruptAck), key="ack"
        ),
        errors=(404, 409),
        body=InterruptRequest,
        body_required=False,
    ),
    Endpoint(
        "GET",
        "/v1/workers/{worker_id}/turns/{turn_id}",
        handlers.turn_detail,
        operation_id="getTurn",
        summary="Where a turn is, and its reply once completed; optionally wait for its end",
        reply=Reply(200, "The turn", ref(TurnDetail), key="turn"),
        errors=(404,),
        query=(
            _wait(
                "Seconds to wait for a queued or running turn to end; the answer comes as "
                "soon as it does"
            ),
        ),
    ),
    Endpoint(
        "GET",
        "/v1/events/stream",
        handlers.events_stream,
        operation_id="streamEvents",
        summary="Every event of the Runtime and every text delta, as they happen (SSE)",
        reply=Reply(
            200,
            _STREAM_TEXT,
            {"oneOf": [ref(RuntimeEvent), ref(TurnTextDelta)]},
            media_type="text/event-stream",
        ),
        query=(_AFTER,),
    ),
    Endpoint(
        "GET",
        "/v1/workers/{worker_id}/stream",
        handlers.worker_stream,
        operation_id="streamWorker",
        summary="One Worker's events and text deltas, as they happen (SSE)",
        reply=Reply(
            200,
            _STREAM_TEXT,
            {"oneOf": [ref(RuntimeEvent), ref(TurnTextDelta)]},
            media_type="text/event-stream",
        ),
        errors=(404,),
        query=(_AFTER,),
    ),
)
