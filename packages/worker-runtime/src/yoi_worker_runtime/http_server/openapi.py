"""The OpenAPI 3.1 document, generated from the endpoint table and the model classes.

Operations come from :data:`.routes.ENDPOINTS`, the table the app routes by; component schemas
from :func:`yoi_worker_runtime.schema.schema_components`, the same field definitions the strict
codec enforces. So the document cannot drift from what the server accepts and sends. Limits
(page sizes, the longest ``wait``) are this server's configured ones.
"""

from __future__ import annotations

from typing import Any

from yoi_worker_runtime.http_server.errors import STATUS_OF_CODE
from yoi_worker_runtime.http_server.options import AppOptions
from yoi_worker_runtime.http_server.routes import ENDPOINTS, Endpoint, Query, ref
from yoi_worker_runtime.ids import WORKER_NAME_PATTERN
from yoi_worker_runtime.model import RuntimeLimits
from yoi_worker_runtime.runtime import Runtime
from yoi_worker_runtime.schema import schema_components

OPENAPI_VERSION = "3.1.0"

_ERROR_TEXT = {
    400: "Invalid query, JSON, request or worker id",
    401: "Missing or invalid bearer token",
    404: "No such Worker (or turn)",
    409: "Conflict: Runtime stopped or closed, Worker not running or busy, name taken",
    413: "Request body over the configured limit",
    415: "Request body is not application/json",
    500: "Store failure (the message carries no absolute path)",
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


def _query_parameter(
    parameter: Query, limits: RuntimeLimits, options: AppOptions
) -> dict[str, Any]:
    schema = dict(parameter.schema)
    if parameter.maximum is not None:
        schema["maximum"] = parameter.maximum(limits, options)
    return {
        "name": parameter.name,
        "in": "query",
        "description": parameter.description,
        "schema": schema,
    }


def _operation(
    endpoint: Endpoint, *, secured: bool, limits: RuntimeLimits, options: AppOptions
) -> dict[str, Any]:
    reply = endpoint.reply
    schema = reply.schema
    if reply.key is not None:
        schema = {
            "type": "object",
            "properties": {reply.key: schema},
            "required": [reply.key],
            "additionalProperties": False,
        }
    responses: dict[str, Any] = {
        str(reply.status): {
            "description": reply.description,
            "content": {reply.media_type: {"schema": schema}},
        }
    }
    codes = set(endpoint.errors) | {400, 500}
    if secured:
        codes.add(401)
    if endpoint.body is not None:
        codes |= {413, 415}
    for code in sorted(codes):
        responses[str(code)] = _json(ref("ErrorBody"), _ERROR_TEXT[code])
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "responses": responses,
    }
    parameters = [_WORKER_ID] if endpoint.names_worker else []
    if endpoint.names_turn:
        parameters.append(_TURN_ID)
    parameters += [_query_parameter(item, limits, options) for item in endpoint.query]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.body_required,
            "content": {"application/json": {"schema": ref(endpoint.body)}},
        }
    if not secured:
        operation["security"] = []
    return operation


def openapi_document(runtime: Runtime, options: AppOptions) -> dict[str, Any]:
    """The OpenAPI 3.1 document this server answers ``GET /v1/openapi.json`` with."""
    token_required = options.token is not None
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint,
            secured=token_required and not endpoint.public,
            limits=runtime.limits,
            options=options,
        )
    components = schema_components()
    components["ErrorBody"] = {
        "type": "object",
        "title": "ErrorBody",
        "description": "Every failure: a stable code and a message. Codes: "
        + ", ".join(sorted(STATUS_OF_CODE)),
        "properties": {"error": ref("ErrorDetail")},
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
    if token_required:
        document["components"]["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer"}
        }
        document["security"] = [{"bearerAuth": []}]
    return document
