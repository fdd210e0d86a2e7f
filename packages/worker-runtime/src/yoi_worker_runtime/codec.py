"""JSON for the model: ``to_json`` / ``from_json`` over one strict cattrs converter.

Strict means: no type coercion (``1`` is not a string, ``true`` is not an integer), unknown keys
are rejected, tagged unions dispatch on ``kind``, and the JSON Schema keywords attached to fields
(``minimum``, ``minLength``, ``pattern``) are enforced, so what the schema promises is what the
codec accepts. Every failure becomes one InvalidRequest whose message lists each problem with its
JSON path, e.g. ``invalid request: $.intent.objective: required field missing``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from yoi_worker_runtime.errors import InvalidRequest

T = TypeVar("T")


#: A string that holds something besides whitespace. Whitespace is listed code point by code
#: point (what JavaScript's ``\s`` and Python's ``\s`` match, together), never as ``\s``: the
#: two differ (U+001C..U+001F and U+0085 count in Python only, U+FEFF in JavaScript only), and a
#: document's pattern must mean here what it means to a validator in any language.
NON_BLANK_PATTERN = (
    r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
    r"\u3000\ufeff]"
)
#: A UTF-16 surrogate on its own (JSON's ``"\ud800"``): not a character, so not text.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ShapeError(ValueError):
    """A JSON value has the wrong shape; the message is shown to the caller as is."""


def text_problem(value: str) -> str | None:
    """What keeps ``value`` from being Unicode text, if anything: the rule every string of
    every model follows (from JSON, from Python callers, in the client)."""
    found = _LONE_SURROGATE.search(value)
    if found is None:
        return None
    return f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not text"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ShapeError(f"expected a string, got {_type_name(value)}")
    problem = text_problem(value)
    if problem is not None:
        raise ShapeError(problem)
    return value


def _structure_int(value: object, _: type) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ShapeError(f"expected an integer, got {_type_name(value)}")
    return value


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ShapeError(f"expected a boolean, got {_type_name(value)}")
    return value


def _literal_hook(literal: Any) -> Callable[[object, type], object]:
    allowed = get_args(literal)
    shown = ", ".join(repr(value) for value in allowed)

    def structure(value: object, _: type) -> object:
        if isinstance(value, str) and value in allowed:
            return value
        raise ShapeError(f"must be one of {shown}, got {value!r}")

    return structure


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _is_array(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis


def _kind_of(cls: type[Any]) -> str:
    """The ``kind`` tag a union member carries (its Literal default)."""
    default = attrs.fields_dict(cls)["kind"].default
    assert isinstance(default, str)
    return default


def _is_tagged_union(union: Any) -> bool:
    members = [arg for arg in get_args(union) if arg is not type(None)]
    return len(members) > 1 and all(
        attrs.has(member) and "kind" in attrs.fields_dict(member) for member in members
    )


def _check_field(value: object, keywords: Mapping[str, Any]) -> str | None:
    """The problem with one structured field value against its schema keywords, if any."""
    minimum = keywords.get("minimum")
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and minimum is not None and value < minimum:
        return f"must be at least {minimum}, got {value}"
    if isinstance(value, str):
        if len(value) < keywords.get("minLength", 0):
            return "must not be empty"
        pattern = keywords.get("pattern")
        if pattern is not None and re.search(pattern, value) is None:
            if pattern == NON_BLANK_PATTERN:
                return "must not be blank"
            return f"must match {pattern}, got {value!r}"
    return None


def _attach(exc: Exception, cls: type[Any], field: attrs.Attribute[Any]) -> Exception:
    """Mark ``exc`` as raised for ``field`` of ``cls`` so transform_error reports its path."""
    from cattrs.errors import AttributeValidationNote

    note = AttributeValidationNote(
        f"Structuring class {cls.__qualname__} @ attribute {field.name}", field.name, field.type
    )
    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
    return exc


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_factory(_is_literal, _literal_hook)

    def tagged_union_hook(union: Any) -> Callable[[object, type], object]:
        members = [arg for arg in get_args(union) if arg is not type(None)]
        by_kind = {_kind_of(member): member for member in members}
        nullable = len(members) != len(get_args(union))
        shown = ", ".join(repr(kind) for kind in by_kind)

        def structure(value: object, _: type) -> object:
            if value is None and nullable:
                return None
            if not isinstance(value, Mapping):
                raise ShapeError(f"expected an object, got {_type_name(value)}")
            kind = value.get("kind")
            member = by_kind.get(kind) if isinstance(kind, str) else None
            if member is None:
                raise ShapeError(f"kind must be one of {shown}, got {kind!r}")
            return converter.structure(value, member)

        return structure

    converter.register_structure_hook_factory(_is_tagged_union, tagged_union_hook)

    def array_hook(tuple_type: Any) -> Callable[[object, type], object]:
        item_type = get_args(tuple_type)[0]

        def structure(value: object, _: type) -> object:
            # Only a JSON array is an array: an object or a string is not iterated.
            if not isinstance(value, list | tuple):
                raise ShapeError(f"expected an array, got {_type_name(value)}")
            items, errors = [], []
            for index, item in enumerate(value):
                try:
                    items.append(converter.structure(item, item_type))
                except Exception as exc:
                    note = IterableValidationNote(
                        f"Structuring {tuple_type} @ index {index}", index, item_type
                    )
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tuple_type}", errors, tuple_type)
            return tuple(items)

        return structure

    converter.register_structure_hook_factory(_is_array, array_hook)

    def attrs_structure_hook(cls: type[Any]) -> Callable[[object, type], object]:
        attrs.resolve_types(cls)
        fields = attrs.fields(cls)
        inner = make_dict_structure_fn(cls, converter)
        checks = [
            (field, field.metadata.get("json_schema", {}), field.metadata.get("check"))
            for field in fields
            if "json_schema" in field.metadata or "check" in field.metadata
        ]

        def structure(value: object, _: type) -> object:
            if not isinstance(value, Mapping):
                raise ShapeError(f"expected an object, got {_type_name(value)}")
            result = inner(value, cls)
            problems = []
            for field, keywords, check in checks:
                value = getattr(result, field.name)
                if value is None:
                    continue
                problem = check(value) if check is not None else _check_field(value, keywords)
                if problem is not None:
                    problems.append(_attach(ShapeError(problem), cls, field))
            if problems:
                raise ClassValidationError(f"While structuring {cls.__name__}", problems, cls)
            return result

        return structure

    def attrs_unstructure_hook(cls: type[Any]) -> Callable[[Any], Any]:
        attrs.resolve_types(cls)
        # A field defaulting to None is left out while None; required nullable fields stay.
        overrides = {
            field.name: override(omit_if_default=True)
            for field in attrs.fields(cls)
            if field.default is None
        }
        return make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    converter.register_structure_hook_factory(attrs.has, attrs_structure_hook)
    converter.register_unstructure_hook_factory(attrs.has, attrs_unstructure_hook)
    return converter


converter = _make_converter()


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, ShapeError):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        return "unknown field(s) " + ", ".join(sorted(exc.extra_fields))
    if isinstance(exc, KeyError):
        return "required field missing"
    return format_exception(exc, type_)


def _problems(exc: BaseException) -> list[str]:
    problems = []
    for line in cattrs.transform_error(exc, format_exception=_format):
        message, _, path = line.rpartition(" @ ")
        problems.append(f"{path}: {message}" if message else line)
    return problems


def from_json(cls: type[T], data: object) -> T:
    """Build a ``cls`` from decoded JSON, or raise InvalidRequest saying what is wrong where."""
    try:
        return converter.structure(data, cls)
    except ShapeError as exc:
        raise InvalidRequest(f"$: {exc}") from None
    except (ClassValidationError, IterableValidationError) as exc:
        raise InvalidRequest("; ".join(_problems(exc))) from None


def to_json(value: object) -> Any:
    """The JSON-ready form (dicts, lists, strings, numbers, booleans, None) of a model value."""
    return converter.unstructure(value)


#: Field types whose values hold no text: nothing to check in them without schema keywords.
_TEXTLESS_TYPES = (int, bool, float)


@cache
def _field_plan(
    cls: type[Any],
) -> tuple[tuple[str, Callable[[object], str | None] | None, Mapping[str, Any]], ...]:
    """Per class, once: the fields that can hold text or carry a check, with their check and
    schema keywords."""
    attrs.resolve_types(cls)
    plan = []
    for field in attrs.fields(cls):
        keywords = field.metadata.get("json_schema", {})
        check = field.metadata.get("check")
        if check is None and not keywords and field.type in _TEXTLESS_TYPES:
            continue
        plan.append((field.name, check, keywords))
    return tuple(plan)


def model_problems(value: object, path: str = "$") -> list[str]:
    """What breaks the schema keywords, checks and the text rule in an already built model value
    (for Python callers, who skip ``from_json``): the same rules and messages ``from_json``
    applies."""
    if isinstance(value, str):
        problem = text_problem(value)
        return [f"{path}: {problem}"] if problem is not None else []
    problems: list[str] = []
    if isinstance(value, tuple):
        for index, item in enumerate(value):
            problems += model_problems(item, f"{path}[{index}]")
        return problems
    cls = type(value)
    if not attrs.has(cls):
        return problems
    for name, check, keywords in _field_plan(cls):
        item = getattr(value, name)
        if item is None:
            continue
        inner = model_problems(item, f"{path}.{name}")
        if inner:
            problems += inner
            continue
        if check is not None:
            problem = check(item)
        elif keywords:
            problem = _check_field(item, keywords)
        else:
            problem = None
        if problem is not None:
            problems.append(f"{path}.{name}: {problem}")
    return problems


def check_model(value: object) -> None:
    """Raise InvalidRequest listing :func:`model_problems`, if there are any."""
    problems = model_problems(value)
    if problems:
        raise InvalidRequest("; ".join(problems))
