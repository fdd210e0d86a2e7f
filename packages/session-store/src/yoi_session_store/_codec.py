"""Generated JSON structuring and unstructuring functions for the entry classes.

Replay decodes every line of a segment, so decoding one object must cost little more than
building it. For each attrs class this module writes (and compiles once, at import) a function
specialised to its fields: required keys are plain lookups, types are checked with ``type(x) is
T`` (JSON yields exact types), nested classes and ``kind``-tagged unions are direct calls, and
the instance is filled through its slots without going through ``__init__`` again. Unknown keys
are detected by counting the known keys found, so the common case never copies the dict.

Errors are ordinary ``TypeError`` / ``ValueError`` / ``KeyError`` naming the field; the codec
turns them into :class:`~yoi_session_store.errors.EntryDecodeError`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from yoi_session_store.ids import SegmentId, SessionId, is_canonical_uuid

Structure = Callable[[dict[str, Any]], Any]
Unstructure = Callable[[Any], Any]

_MISSING = object()
_SCALARS: dict[Any, str] = {str: "a string", int: "an integer", bool: "a boolean"}


class UnionCodec:
    """A ``kind``-tagged union: structuring dispatches on ``kind``, unstructuring on the class.

    The tables are filled as the member classes are generated; the functions look them up at
    call time, so the order of generation does not matter.
    """

    def __init__(
        self, unknown_class: type[Any], unknown: Structure, unknown_unstructure: Unstructure
    ) -> None:
        self.by_kind: dict[str, Structure] = {}
        self.by_class: dict[type[Any], Unstructure] = {unknown_class: unknown_unstructure}
        self.unknown = unknown
        get = self.by_kind.get
        by_class = self.by_class

        def structure(data: Any) -> Any:
            if type(data) is not dict:
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            kind = data.get("kind")
            if type(kind) is not str:
                raise TypeError("missing or non-string 'kind'")
            return (get(kind) or unknown)(data)

        def unstructure(obj: Any) -> Any:
            return by_class[type(obj)](obj)

        self.structure = structure
        self.unstructure = unstructure

    def add(self, cls: type[Any], structure: Structure, unstructure: Unstructure) -> None:
        self.by_kind[cls.KIND] = structure
        self.by_class[cls] = unstructure


class _Source:
    """The text of one generated function and the constants it refers to."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.lines: list[str] = []

    def const(self, value: Any, hint: str) -> str:
        name = f"_{hint}_{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def compile(self, name: str) -> Any:
        code = "\n".join(self.lines) + "\n"
        exec(compile(code, f"<generated {name}>", "exec"), self.namespace)  # noqa: S102
        return self.namespace[name]


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None`` (``_MISSING`` when ``tp`` is not that shape)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return _MISSING


def _scalar_union(tp: Any) -> tuple[type[Any], ...] | None:
    """The member types of a union of scalars (and None), e.g. ``str | int | None``."""
    if not (isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union):
        return None
    args = typing.get_args(tp)
    if all(a is type(None) or a in _SCALARS for a in args):
        return tuple(args)
    return None  # e.g. ``float | None``: handled as an optional float


class ClassCodecs:
    """Generates and holds the structure/unstructure functions of a family of classes."""

    def __init__(self, unions: Mapping[Any, UnionCodec], any_unstructure: Unstructure) -> None:
        self.unions = dict(unions)
        self.any_unstructure = any_unstructure
        self.structure: dict[type[Any], Structure] = {}
        self.unstructure: dict[type[Any], Unstructure] = {}

    # ---- structuring ---------------------------------------------------------------------

    def _check(self, src: _Source, indent: int, var: str, tp: Any, label: str) -> None:
        """Lines that validate ``var`` against ``tp`` (converting it in place where needed)."""
        add = src.add
        if tp is Any:
            return
        if tp in _SCALARS:
            add(indent, f"if type({var}) is not {tp.__name__}:")
            add(
                indent + 1,
                f"raise TypeError(f'{label}: expected {_SCALARS[tp]}, "
                f"got {{type({var}).__name__}}')",
            )
            return
        if tp is float:
            add(indent, f"if type({var}) is not float:")
            add(indent + 1, f"if type({var}) is int:")
            add(indent + 2, f"{var} = float({var})")
            add(indent + 1, "else:")
            add(
                indent + 2,
                f"raise TypeError(f'{label}: expected a number, got {{type({var}).__name__}}')",
            )
            return
        if tp is SessionId or tp is SegmentId:
            check = src.const(is_canonical_uuid, "is_uuid")
            add(indent, f"if type({var}) is not str or not {check}({var}):")
            add(indent + 1, f"raise ValueError(f'{label}: not a canonical UUID: {{{var}!r}}')")
            return
        if typing.get_origin(tp) is typing.Literal:
            allowed = frozenset(typing.get_args(tp))
            if not all(type(a) is str for a in allowed):
                raise TypeError(f"{label}: only string literals are supported")
            name = src.const(allowed, "allowed")
            choices = src.const(", ".join(sorted(allowed)), "choices")
            add(indent, f"if type({var}) is not str or {var} not in {name}:")
            add(indent + 1, f"raise ValueError(f'{label}: {{{var}!r}} is not one of ' + {choices})")
            return
        if tp in self.unions:
            self._dispatch(src, indent, var, self.unions[tp], label)
            return
        if isinstance(tp, type) and attrs.has(tp):
            fn = src.const(self.structure[tp], "structure")
            add(indent, f"if type({var}) is not dict:")
            got = f"type({var}).__name__"
            add(indent + 1, f"raise TypeError('{label}: expected a JSON object, got ' + {got})")
            add(indent, f"{var} = {fn}({var})")
            return
        if typing.get_origin(tp) is tuple:
            args = typing.get_args(tp)
            if len(args) != 2 or args[1] is not Ellipsis:
                raise TypeError(f"{label}: only tuple[X, ...] is supported, not {tp}")
            add(indent, f"if type({var}) is not list and type({var}) is not tuple:")
            add(
                indent + 1,
                f"raise TypeError(f'{label}: expected a JSON array, got {{type({var}).__name__}}')",
            )
            inner = args[0]
            if inner in self.unions:
                # One element is the common case (a message with one text): no loop for it.
                fn = src.const(self.unions[inner].structure, "union")
                add(indent, f"if len({var}) == 1:")
                add(indent + 1, f"x = {var}[0]")
                self._dispatch(src, indent + 1, "x", self.unions[inner], f"{label} item")
                add(indent + 1, f"{var} = (x,)")
                add(indent, "else:")
                add(indent + 1, f"{var} = tuple([{fn}(x) for x in {var}])")
                return
            add(indent, f"for x in {var}:")
            self._check(src, indent + 1, "x", inner, f"{label} item")
            add(indent, f"{var} = tuple({var})")
            return
        scalars = _scalar_union(tp)
        if scalars is not None:
            names = " and ".join(
                f"{var} is not None" if t is type(None) else f"type({var}) is not {t.__name__}"
                for t in scalars
            )
            wanted = " or ".join("null" if t is type(None) else _SCALARS[t] for t in scalars)
            add(indent, f"if {names}:")
            add(indent + 1, f"raise TypeError(f'{label} must be {wanted}, got {{{var}!r}}')")
            return
        inner = _optional_inner(tp)
        if inner is not _MISSING:
            add(indent, f"if {var} is not None:")
            self._check(src, indent + 1, var, inner, label)
            return
        raise TypeError(f"{label}: no structuring rule for {tp!r}")

    @staticmethod
    def _dispatch(src: _Source, indent: int, var: str, union: UnionCodec, label: str) -> None:
        """Lines structuring ``var`` as a member of ``union`` (the union's function, inlined)."""
        get = src.const(union.by_kind.get, "kinds")
        unknown = src.const(union.unknown, "unknown")
        add = src.add
        add(indent, f"if type({var}) is not dict:")
        add(
            indent + 1,
            f"raise TypeError(f'{label}: expected a JSON object, got {{type({var}).__name__}}')",
        )
        add(indent, f"k = {var}.get('kind')")
        add(indent, "if type(k) is not str:")
        add(indent + 1, f"raise TypeError(\"{label}: missing or non-string 'kind'\")")
        add(indent, f"{var} = ({get}(k) or {unknown})({var})")

    def make_structure(
        self, cls: type[Any], *, defaults: Mapping[str, Any] | None = None
    ) -> Structure:
        """A function from a JSON object to ``cls`` (``defaults`` overrides field defaults).

        A tagged class (one with ``KIND``) expects the ``kind`` key to be present (the union
        dispatch read it); every other key the class does not know goes to ``extra_fields``.
        """
        attrs.resolve_types(cls)
        fields = [f for f in attrs.fields(cls) if f.name != "extra_fields"]
        tagged = hasattr(cls, "KIND")
        known = frozenset([*(f.name for f in fields), *(["kind"] if tagged else [])])
        src = _Source({"_MISSING": _MISSING, "_known": known, "_cls": cls, "_new": object.__new__})
        name = f"structure_{cls.__name__}"
        add = src.add
        add(0, f"def {name}(d):")
        required = sum(1 for f in fields if f.default is attrs.NOTHING) + tagged
        add(1, f"n = {required}")
        names: list[str] = []
        for index, field in enumerate(fields):
            var = f"v{index}"
            names.append(var)
            if field.default is attrs.NOTHING:
                add(1, f"{var} = d[{field.name!r}]")
                self._check(src, 1, var, field.type, field.name)
                continue
            default = (defaults or {}).get(field.name, field.default)
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                raise TypeError(f"{cls.__name__}.{field.name}: factory defaults are not supported")
            add(1, f"{var} = d.get({field.name!r}, _MISSING)")
            add(1, f"if {var} is _MISSING:")
            add(2, f"{var} = {src.const(default, 'default')}")
            add(1, "else:")
            add(2, "n += 1")
            self._check(src, 2, var, field.type, field.name)
        extra = "v_extra"
        add(1, "if len(d) == n:")
        add(2, f"{extra} = {src.const(_no_extra(cls), 'no_extra')}")
        add(1, "else:")
        add(2, f"{extra} = {{k: v for k, v in d.items() if k not in _known}}")
        all_fields = [*fields, attrs.fields_dict(cls)["extra_fields"]]
        all_vars = [*names, extra]
        if _fills_slots_directly(cls):
            # Same effect as ``cls(...)`` for a frozen slotted class without validators,
            # converters or post-init hooks, at a fraction of the cost.
            add(1, "o = _new(_cls)")
            for field, var in zip(all_fields, all_vars, strict=True):
                setter = src.const(getattr(cls, field.name).__set__, "set")
                add(1, f"{setter}(o, {var})")
            add(1, "return o")
        else:
            args = ", ".join(f"{f.name}={v}" for f, v in zip(all_fields, all_vars, strict=True))
            add(1, f"return _cls({args})")
        structure: Structure = src.compile(name)
        if defaults is None:
            self.structure[cls] = structure
        return structure

    # ---- unstructuring -------------------------------------------------------------------

    def _value(self, src: _Source, var: str, tp: Any) -> str:
        """An expression for the JSON form of ``var`` of type ``tp``."""
        if tp is Any:
            return f"{src.const(self.any_unstructure, 'any')}({var})"
        if tp in self.unions:
            return f"{src.const(self.unions[tp].by_class, 'by_class')}[type({var})]({var})"
        if isinstance(tp, type) and attrs.has(tp):
            return f"{src.const(self.unstructure[tp], 'unstructure')}({var})"
        if typing.get_origin(tp) is tuple:
            inner = typing.get_args(tp)[0]
            if inner in self.unions:
                table = src.const(self.unions[inner].by_class, "by_class")
                # One element is the common case: no comprehension (a frame of its own) for it.
                return (
                    f"([{table}[type({var}[0])]({var}[0])] if len({var}) == 1 "
                    f"else [{table}[type(x)](x) for x in {var}])"
                )
            item = self._value(src, "x", inner)
            return f"list({var})" if item == "x" else f"[{item} for x in {var}]"
        inner = _optional_inner(tp)
        if inner is not _MISSING:
            value = self._value(src, var, inner)
            return var if value == var else f"(None if {var} is None else {value})"
        return var  # scalars, literals, ids and scalar unions are their own JSON form

    def make_unstructure(
        self, cls: type[Any], *, omit_defaults: bool, always: tuple[str, ...] = ()
    ) -> Unstructure:
        """A function from ``cls`` to its JSON object: ``kind`` first, then the fields that
        are always written in order, then those written only when not at their default, then
        unknown fields (never overriding a known one)."""
        attrs.resolve_types(cls)
        fields = [f for f in attrs.fields(cls) if f.name != "extra_fields"]
        src = _Source({})
        name = f"unstructure_{cls.__name__}"
        add = src.add
        add(0, f"def {name}(o):")

        def omitted(f: attrs.Attribute[Any]) -> bool:
            return omit_defaults and f.default is not attrs.NOTHING and f.name not in always

        items = [f"'kind': {cls.KIND!r}"] if hasattr(cls, "KIND") else []
        for index, field in enumerate(fields):
            if not omitted(field):
                add(1, f"v{index} = o.{field.name}")
                items.append(f"{field.name!r}: {self._value(src, f'v{index}', field.type)}")
        add(1, f"d = {{{', '.join(items)}}}")
        for index, field in enumerate(fields):
            if omitted(field):
                default = src.const(field.default, "default")
                add(1, f"v{index} = o.{field.name}")
                add(1, f"if v{index} != {default}:")
                add(2, f"d[{field.name!r}] = {self._value(src, f'v{index}', field.type)}")
        add(1, "e = o.extra_fields")
        add(1, "if e:")
        add(2, "for k, v in e.items():")
        add(3, "if k not in d:")
        add(4, "d[k] = v")
        add(1, "return d")
        unstructure: Unstructure = src.compile(name)
        self.unstructure[cls] = unstructure
        return unstructure


def _no_extra(cls: type[Any]) -> Any:
    default = attrs.fields_dict(cls)["extra_fields"].default
    if default is attrs.NOTHING:
        raise TypeError(f"{cls.__name__}.extra_fields needs a default")
    return default


def _fills_slots_directly(cls: type[Any]) -> bool:
    if not (attrs.has(cls) and "__slots__" in cls.__dict__):
        return False
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return False
    return all(
        f.validator is None
        and f.converter is None
        and f.init
        and type(getattr(cls, f.name, None)) is types.MemberDescriptorType
        for f in attrs.fields(cls)
    )
