"""Checking a tool call's arguments against the tool's JSON Schema.

The Runtime supports the part of JSON Schema that describes call arguments: ``type`` (one or a
list of ``object``, ``array``, ``string``, ``integer``, ``number``, ``boolean``, ``null``),
``properties``, ``required``, ``additionalProperties`` (a boolean or a schema), ``items``,
``enum``, ``const``, ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``,
``minLength``, ``maxLength``, ``pattern`` (Python ``re.search``), ``minItems``, ``maxItems``,
``anyOf``, ``oneOf``, and the annotations ``title``, ``description``, ``default``, ``examples``.
A tool whose schema uses anything else is refused when the Runtime starts, so no keyword is
ever silently not checked.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Mapping
from typing import Any

from yoi_worker_runtime.tools.contract import ToolError

_ANNOTATIONS = {"title", "description", "default", "examples", "$schema"}
_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "anyOf",
    "oneOf",
    *_ANNOTATIONS,
}
_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


class ToolSchemaError(ValueError):
    """A tool's argument schema uses something the Runtime cannot check."""


def check_schema(schema: object, where: str = "parameters") -> None:
    """Raise ToolSchemaError unless ``schema`` uses only the supported keywords, well formed."""
    if not isinstance(schema, Mapping):
        raise ToolSchemaError(f"{where} must be an object")
    unknown = sorted(set(schema) - _KEYWORDS)
    if unknown:
        raise ToolSchemaError(f"{where} uses the unsupported keyword {unknown[0]!r}")
    kinds = schema.get("type")
    for kind in kinds if isinstance(kinds, list) else [] if kinds is None else [kinds]:
        if kind not in _TYPES:
            raise ToolSchemaError(f"{where} has the unknown type {kind!r}")
    for name, sub in dict(schema.get("properties", {})).items():
        check_schema(sub, f"{where}.properties.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            check_schema(schema[key], f"{where}.{key}")
    for key in ("anyOf", "oneOf"):
        for index, sub in enumerate(schema.get(key, [])):
            check_schema(sub, f"{where}.{key}[{index}]")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as exc:
            raise ToolSchemaError(f"{where}.pattern is not a valid pattern ({exc})") from None


def _is_type(value: object, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }[kind]


def problems(value: object, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (empty when it conforms)."""
    found: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, kind) for kind in allowed):
            return [f"{path}: expected {' or '.join(allowed)}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: must be one of {', '.join(map(repr, schema['enum']))}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matching = sum(not problems(value, option, path) for option in schema[key])
            if matching == 0 or (key == "oneOf" and matching > 1):
                found.append(f"{path}: matches {matching} of the allowed shapes")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            found.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: does not match {schema['pattern']!r}")
    if _is_type(value, "number"):
        number: float = value  # type: ignore[assignment]
        if not math.isfinite(number):
            found.append(f"{path}: not a finite number")
        bounds = (
            ("minimum", operator.lt),
            ("maximum", operator.gt),
            ("exclusiveMinimum", operator.le),
            ("exclusiveMaximum", operator.ge),
        )
        for key, fails in bounds:
            if key in schema and fails(number, schema[key]):
                found.append(f"{path}: violates {key} {schema[key]}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{path}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), Mapping):
            for index, item in enumerate(value):
                found += problems(item, schema["items"], f"{path}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [
            f"{path}: missing required {name!r}"
            for name in schema.get("required", [])
            if name not in value
        ]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                found += problems(item, properties[name], f"{path}.{name}")
            elif extra is False:
                found.append(f"{path}: unexpected property {name!r}")
            elif isinstance(extra, Mapping):
                found += problems(item, extra, f"{path}.{name}")
    return found


def parse_arguments(text: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A call's arguments (JSON text from the model) checked against the tool's schema;
    ToolError (an error result the model sees) says what is wrong."""
    try:
        value = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError):
        raise ToolError("the arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise ToolError("the arguments must be a JSON object")
    found = problems(value, schema)
    if found:
        raise ToolError("invalid arguments: " + "; ".join(found[:10]))
    return value
