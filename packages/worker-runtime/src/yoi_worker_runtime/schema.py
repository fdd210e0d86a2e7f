"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) derived from the attrs model classes.

The schema is generated from the same field types and metadata the codec reads, so the two
cannot drift apart. ``json_schema(Model)`` gives a standalone document with ``$defs``;
``schema_components(models)`` gives the ``components.schemas`` map of an OpenAPI document.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from yoi_worker_runtime import model

DEFS_PREFIX = "#/$defs/"
COMPONENTS_PREFIX = "#/components/schemas/"


class _Generator:
    def __init__(self, ref_prefix: str) -> None:
        self.ref_prefix = ref_prefix
        self.definitions: dict[str, dict[str, Any]] = {}

    def reference(self, cls: type[Any]) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.definitions:
            self.definitions[name] = {}  # placeholder: stops recursion on cycles
            self.definitions[name] = self.object_schema(cls)
        return {"$ref": self.ref_prefix + name}

    def object_schema(self, cls: type[Any]) -> dict[str, Any]:
        attrs.resolve_types(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in attrs.fields(cls):
            schema = self.type_schema(field.type)
            if field.default is None and "null" not in _types_of(schema):
                schema = {"anyOf": [schema, {"type": "null"}]}
            # 2020-12 allows keywords beside $ref / anyOf; string keywords skip non-strings.
            schema = {**schema, **field.metadata.get("json_schema", {})}
            default = field.default
            if default is attrs.NOTHING or field.name == "kind":
                required.append(field.name)  # a union member's tag is always sent
            elif isinstance(default, str | int | bool):
                schema["default"] = default
            elif default == ():
                schema["default"] = []
            properties[field.name] = schema
        result: dict[str, Any] = {
            "type": "object",
            "title": cls.__name__,
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
        doc = (cls.__doc__ or "").strip()
        if doc and not doc.startswith(cls.__name__ + "("):
            result["description"] = " ".join(doc.split())
        return result

    def type_schema(self, type_: Any) -> dict[str, Any]:
        if type_ is str:
            return {"type": "string"}
        if type_ is bool:
            return {"type": "boolean"}
        if type_ is int:
            return {"type": "integer"}
        if type_ is float:
            return {"type": "number"}
        if type_ is type(None):
            return {"type": "null"}
        if attrs.has(type_):
            return self.reference(type_)
        origin = get_origin(type_)
        args = get_args(type_)
        if origin is Literal:
            return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": self.type_schema(args[0])}
        if origin is list:
            return {"type": "array", "items": self.type_schema(args[0])}
        if origin in (Union, types.UnionType):
            members = [arg for arg in args if arg is not type(None)]
            nullable = len(members) != len(args)
            if len(members) == 1:
                inner = self.type_schema(members[0])
            else:
                inner = {"oneOf": [self.type_schema(member) for member in members]}
                if all(
                    attrs.has(member) and "kind" in attrs.fields_dict(member) for member in members
                ):
                    inner["discriminator"] = {
                        "propertyName": "kind",
                        "mapping": {
                            attrs.fields_dict(member)["kind"].default: self.ref_prefix
                            + member.__name__
                            for member in members
                        },
                    }
            return {"anyOf": [inner, {"type": "null"}]} if nullable else inner
        raise TypeError(f"no JSON Schema for {type_!r}")


def _types_of(schema: dict[str, Any]) -> set[str]:
    if "anyOf" in schema:
        return {kind for member in schema["anyOf"] for kind in _types_of(member)}
    declared = schema.get("type")
    return {declared} if isinstance(declared, str) else set()


def json_schema(cls: type[Any]) -> dict[str, Any]:
    """A standalone JSON Schema document for one model class, with its parts under ``$defs``."""
    generator = _Generator(DEFS_PREFIX)
    generator.reference(cls)
    root = generator.definitions.pop(cls.__name__)
    document: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **root}
    if generator.definitions:
        document["$defs"] = dict(sorted(generator.definitions.items()))
    # The root is inlined, so references to it point at the document itself.
    rewritten: dict[str, Any] = _rewrite_self_refs(document, DEFS_PREFIX + cls.__name__)
    return rewritten


def _rewrite_self_refs(node: Any, own_ref: str) -> Any:
    if isinstance(node, dict):
        return {
            key: ("#" if key == "$ref" and value == own_ref else _rewrite_self_refs(value, own_ref))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_self_refs(item, own_ref) for item in node]
    return node


def schema_components(models: tuple[type[Any], ...] = model.MODELS) -> dict[str, dict[str, Any]]:
    """``components.schemas`` of an OpenAPI 3.1 document: every model and what it refers to."""
    generator = _Generator(COMPONENTS_PREFIX)
    for cls in models:
        generator.reference(cls)
    return dict(sorted(generator.definitions.items()))
