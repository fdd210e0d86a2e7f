"""The OpenAPI 3.1 document, generated from the endpoint table and the model classes.

Operations come from :data:`.routes.ENDPOINTS`, the table the app routes by; component schemas
from :func:`yoi_worker_runtime.schema.schema_components`, the same field definitions the strict
codec enforces. So the document cannot drift from what the server accepts and sends.

It is one fixed document, the same from every server whatever its flags, so a client generated
from one works against any: ``bearerAuth`` is always declared and optional (a server started
without a token needs none), 401 is always listed, and limits are the documented maxima. It is
committed as ``packages/worker-runtime/openapi.json``; after changing the API, regenerate it::

    python -m yoi_worker_runtime.http_server --print-openapi > packages/worker-runtime/openapi.json
"""

from __future__ import annotations

import json
from typing import Any

from yoi_worker_runtime.http_server.errors import STATUS_OF_CODE
from yoi_worker_runtime.http_server.routes import ENDPOINTS, Endpoint, Query, Reply, ref
from yoi_worker_runtime.ids import WORKER_NAME_PATTERN
from yoi_worker_runtime.schema import schema_components

OPENAPI_VERSION = "3.1.0"

_ERROR_TEXT = {
    400: "Invalid query, JSON, request or worker id",
    401: "Missing or invalid bearer token (a server started with one)",
    404: "No such Worker (or turn); worker_hosted_elsewhere and worker_orphaned name the "
    "Runtime the store says hosts it (hosting_runtime_id, hosting_url)",
    409: "Conflict: Runtime stopped or closed, Worker not running or busy, name taken",
    413: "Request body over the configured limit",
    415: "Request body is not application/json",
    500: "Store failure (the message carries no absolute path)",
    503: "The Runtime lost its hosting lease on a shared store (lease_lost): another Runtime "
    "may host its Workers now; it must be restarted",
    507: "The store is out of space (insufficient_storage): nothing changed; the same request "
    "succeeds once space is freed",
}

_WORKER_ID: dict[str, Any] = {
    "name": "worker_id",
    "in": "path",
    "required": True,
    "description": "The Worker's id (its name)",
    "schema": {"type": "string", "pattern": WORKER_NAME_PATTERN},
}


_TURN_ID: dict[str, Any] = {
    "name": "turn_id",
    "in": "path",
    "required": True,
    "description": "A turn's id, as an input's ack gives it",
    "schema": {"type": "string", "minLength": 1},
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query_parameter(parameter: Query) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": "query",
        "description": parameter.description,
        "schema": parameter.schema,
    }


def _response(reply: Reply) -> dict[str, Any]:
    schema = reply.schema
    if reply.key is not None:
        schema = {
            "type": "object",
            "properties": {reply.key: schema},
            "required": [reply.key],
            "additionalProperties": False,
        }
    return {"description": reply.description, "content": {reply.media_type: {"schema": schema}}}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    responses = {
        str(reply.status): _response(reply) for reply in (endpoint.reply, *endpoint.other_replies)
    }
    codes = set(endpoint.errors) | {400, 500}
    if not endpoint.public:
        codes.add(401)
    if endpoint.body is not None:
        codes |= {413, 415}
    if not endpoint.served_without_lease:
        codes.add(503)
    if endpoint.method == "POST":  # every POST changes something: the store may be full
        codes.add(507)
    for code in codes:
        responses[str(code)] = _json(ref("ErrorBody"), _ERROR_TEXT[code])
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "responses": dict(sorted(responses.items())),
    }
    parameters = [_WORKER_ID] if endpoint.names_worker else []
    if endpoint.names_turn:
        parameters.append(_TURN_ID)
    parameters += [_query_parameter(item) for item in endpoint.query]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.body_required,
            "content": {"application/json": {"schema": ref(endpoint.body)}},
        }
    if endpoint.public:
        operation["security"] = []
    return operation


def _probe_body(title: str, statuses: list[str], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "description": description,
        "properties": {
            "status": {"enum": statuses},
            "reason": {"type": "string", "description": "Why, when the status is not the first"},
        },
        "required": ["status"],
        "additionalProperties": False,
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document every server answers ``GET /v1/openapi.json`` with."""
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    components = schema_components()
    components["ErrorBody"] = {
        "type": "object",
        "title": "ErrorBody",
        "description": "Every failure: a stable code, a message and the request's id. Codes: "
        + ", ".join(sorted(STATUS_OF_CODE)),
        "properties": {"error": ref("ErrorDetail")},
        "required": ["error"],
        "additionalProperties": False,
    }
    components["HealthBody"] = _probe_body(
        "HealthBody",
        ["ok", "stopped", "lease_lost"],
        "Liveness: ok; stopped once the Runtime has stopped; lease_lost once it lost its "
        "hosting lease on a shared store (it must be restarted)",
    )
    components["ReadyBody"] = _probe_body(
        "ReadyBody",
        ["ready", "starting", "stopping", "stopped", "lease_lost", "store_failing"],
        "Readiness: ready; starting (not accepting requests yet), stopping (shutting down), "
        "stopped (the Runtime has stopped), lease_lost (it lost its hosting lease on a shared "
        "store), store_failing (the last store write failed, until one succeeds)",
    )
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "yoi Runtime REST API",
            "version": "1",
            "description": "Drives one yoi Runtime. Its clients are trusted backends and local "
            "tools, never browsers: the bearer token is a local process credential. A server "
            "started with a token (--local-token-env, --local-token-file) needs it on every "
            "operation but health, ready and this document; one started without needs none. "
            "Every answer carries an X-Request-ID header (the request's own when it sent a sane "
            "one), also found in error bodies.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}, {}],
    }


def render_document(document: dict[str, Any]) -> str:
    """The committed form of a document: indented JSON, keys in their order, final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
