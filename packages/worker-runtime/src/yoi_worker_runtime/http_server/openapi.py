"""The OpenAPI 3.1 document, generated from the model classes the handlers decode and encode.

Component schemas come from :func:`yoi_worker_runtime.schema.schema_components`, the same field
definitions the strict codec enforces, so the document cannot drift from what the server
accepts and sends. Limits (page sizes, the longest ``wait``) are this server's configured ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yoi_worker_runtime.http_server.errors import STATUS_OF_CODE
from yoi_worker_runtime.ids import WORKER_NAME_PATTERN
from yoi_worker_runtime.schema import COMPONENTS_PREFIX, schema_components

if TYPE_CHECKING:
    from yoi_worker_runtime.http_server.app import AppOptions
    from yoi_worker_runtime.runtime import Runtime

OPENAPI_VERSION = "3.1.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS_PREFIX + name}


def _wrapped(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: schema},
        "required": [key],
        "additionalProperties": False,
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("ErrorBody"), description)


_ERROR_TEXT = {
    400: "Invalid query, JSON, request or worker id",
    401: "Missing or invalid bearer token",
    404: "No such Worker",
    409: "Conflict: Runtime stopped or closed, Worker not running, name taken",
    413: "Request body over the configured limit",
    415: "Request body is not application/json",
    500: "Store failure (the message carries no absolute path)",
}


def _operation(
    operation_id: str,
    summary: str,
    ok: tuple[int, str, dict[str, Any]],
    *,
    errors: tuple[int, ...],
    secured: bool,
    parameters: list[dict[str, Any]] | None = None,
    body: tuple[str, bool] | None = None,
) -> dict[str, Any]:
    status, description, schema = ok
    responses: dict[str, Any] = {str(status): _json(schema, description)}
    codes = set(errors) | {400, 500}
    if secured:
        codes.add(401)
    if body is not None:
        codes |= {413, 415}
    for code in sorted(codes):
        responses[str(code)] = _error(_ERROR_TEXT[code])
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        name, required = body
        operation["requestBody"] = {
            "required": required,
            "content": {"application/json": {"schema": _ref(name)}},
        }
    if not secured:
        operation["security"] = []
    return operation


def openapi_document(runtime: Runtime, options: AppOptions) -> dict[str, Any]:
    """The OpenAPI 3.1 document this server answers ``GET /v1/openapi.json`` with."""
    secured = options.token is not None
    limits = runtime.limits
    worker_id: dict[str, Any] = {
        "name": "worker_id",
        "in": "path",
        "required": True,
        "description": "The Worker's id (its name)",
        "schema": {"type": "string", "pattern": WORKER_NAME_PATTERN},
    }
    transcript_parameters: list[dict[str, Any]] = [
        worker_id,
        {
            "name": "start",
            "in": "query",
            "description": "0-based index of the first entry",
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        {
            "name": "limit",
            "in": "query",
            "description": "Page size; default and maximum: the configured maximum",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": limits.max_transcript_projection_items,
            },
        },
    ]
    event_parameters: list[dict[str, Any]] = [
        {
            "name": "cursor",
            "in": "query",
            "description": "'start' (event 1), 'now' (only later events) or the id of the "
            "next event to read (a batch's cursor.next_event_id)",
            "schema": {"type": "string", "pattern": "^(start|now|[0-9]+)$", "default": "start"},
        },
        {
            "name": "runtime_id",
            "in": "query",
            "description": "The cursor's Runtime (a batch's cursor.runtime_id); another "
            "Runtime's cursor is refused with wrong_runtime_cursor",
            "schema": {"type": "string"},
        },
        {
            "name": "limit",
            "in": "query",
            "description": "Batch size; default and maximum: the configured maximum",
            "schema": {"type": "integer", "minimum": 1, "maximum": limits.max_event_batch_items},
        },
        {
            "name": "wait",
            "in": "query",
            "description": "Seconds to wait for an event when there is none yet (long-poll); "
            "the answer comes as soon as one arrives",
            "schema": {
                "type": "number",
                "minimum": 0,
                "maximum": options.max_event_wait,
                "default": 0,
            },
        },
    ]
    op = _operation
    paths: dict[str, Any] = {
        "/v1/health": {
            "get": op(
                "health",
                "Readiness check (no token needed)",
                (200, "The server is serving", _ref("HealthBody")),
                errors=(),
                secured=False,
            )
        },
        "/v1/openapi.json": {
            "get": op(
                "openapi",
                "This document (no token needed)",
                (200, "The OpenAPI document", {"type": "object"}),
                errors=(),
                secured=False,
            )
        },
        "/v1/runtime": {
            "get": op(
                "getRuntime",
                "The Runtime's summary",
                (200, "Summary", _wrapped("runtime", _ref("RuntimeSummary"))),
                errors=(),
                secured=secured,
            )
        },
        "/v1/runtime/stop": {
            "post": op(
                "stopRuntime",
                "Stop every running Worker, then the Runtime; reads keep working",
                (200, "Stopped", _wrapped("ack", _ref("RuntimeLifecycleAck"))),
                errors=(409,),
                secured=secured,
                body=("LifecycleRequest", False),
            )
        },
        "/v1/diagnostics": {
            "get": op(
                "getDiagnostics",
                "The Runtime's diagnostics",
                (
                    200,
                    "Diagnostics",
                    _wrapped("diagnostics", {"type": "array", "items": _ref("RuntimeDiagnostic")}),
                ),
                errors=(),
                secured=secured,
            )
        },
        "/v1/events": {
            "get": op(
                "getEvents",
                "Events from a cursor on, optionally waiting for the next one (long-poll)",
                (200, "A batch of events", _wrapped("batch", _ref("EventBatch"))),
                errors=(),
                secured=secured,
                parameters=event_parameters,
            )
        },
        "/v1/workers": {
            "get": op(
                "listWorkers",
                "Every Worker, ordered by id",
                (
                    200,
                    "Workers",
                    _wrapped("workers", {"type": "array", "items": _ref("WorkerSummary")}),
                ),
                errors=(),
                secured=secured,
            ),
            "post": op(
                "createWorker",
                "Create a Worker (or restore the one a persistent store kept under its name)",
                (201, "Created", _wrapped("worker", _ref("WorkerDetail"))),
                errors=(409,),
                secured=secured,
                body=("CreateWorkerRequest", True),
            ),
        },
        "/v1/workers/{worker_id}": {
            "get": op(
                "getWorker",
                "One Worker in detail",
                (200, "The Worker", _wrapped("worker", _ref("WorkerDetail"))),
                errors=(404,),
                secured=secured,
                parameters=[worker_id],
            )
        },
        "/v1/workers/{worker_id}/input": {
            "post": op(
                "sendInput",
                "Append user or system input to a running Worker's transcript",
                (200, "Accepted", _wrapped("ack", _ref("WorkerInteractionAck"))),
                errors=(404, 409),
                secured=secured,
                parameters=[worker_id],
                body=("WorkerInput", True),
            )
        },
        "/v1/workers/{worker_id}/stop": {
            "post": op(
                "stopWorker",
                "Stop a Worker (a second stop or cancel changes nothing)",
                (200, "Stopped", _wrapped("ack", _ref("WorkerLifecycleAck"))),
                errors=(404, 409),
                secured=secured,
                parameters=[worker_id],
                body=("LifecycleRequest", False),
            )
        },
        "/v1/workers/{worker_id}/cancel": {
            "post": op(
                "cancelWorker",
                "Cancel a Worker (a second stop or cancel changes nothing)",
                (200, "Cancelled", _wrapped("ack", _ref("WorkerLifecycleAck"))),
                errors=(404, 409),
                secured=secured,
                parameters=[worker_id],
                body=("LifecycleRequest", False),
            )
        },
        "/v1/workers/{worker_id}/transcript": {
            "get": op(
                "getTranscript",
                "One page of a Worker's transcript",
                (200, "A page", _wrapped("transcript", _ref("TranscriptProjection"))),
                errors=(404,),
                secured=secured,
                parameters=transcript_parameters,
            )
        },
    }
    components = schema_components()
    components["ErrorBody"] = {
        "type": "object",
        "title": "ErrorBody",
        "description": "Every failure: a stable code and a message. Codes: "
        + ", ".join(sorted(STATUS_OF_CODE)),
        "properties": {"error": _ref("ErrorDetail")},
        "required": ["error"],
        "additionalProperties": False,
    }
    components["HealthBody"] = {
        "type": "object",
        "title": "HealthBody",
        "properties": {"status": {"const": "ok"}},
        "required": ["status"],
        "additionalProperties": False,
    }
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "yoi Runtime REST API",
            "version": "1",
            "description": "Drives one yoi Runtime. Its clients are trusted backends and local "
            "tools, never browsers: the bearer token is a local process credential.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }
    if secured:
        document["components"]["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer"}
        }
        document["security"] = [{"bearerAuth": []}]
    return document
