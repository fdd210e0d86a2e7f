"""Entries of a session log and their JSON form.

One entry is one compact JSON object on one line, with ``kind`` as its first key. Items, system
items, input parts and message content are ``kind``-tagged the same way. Fields this version does
not know are kept in ``extra_fields`` (and whole records of an unknown ``kind`` as
:class:`UnknownRecord`), so a log written by a newer version survives a rewrite unchanged.

Structuring goes through cattrs' generated per-class functions and orjson, wrapped by a small
``kind`` dispatch: this keeps decoding a line cheaper than ``json.loads`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeAlias

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from yoi_session_store.errors import EntryDecodeError
from yoi_session_store.ids import SegmentId, SessionId, is_canonical_uuid

#: Written into every ``segment_start``. Logs without the field predate versioning (version 0)
#: and share version 1's format.
SCHEMA_VERSION = 1
LEGACY_SCHEMA_VERSION = 0

_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _extra() -> Any:
    return attrs.field(default=_NO_EXTRA, kw_only=True)


@attrs.frozen
class UnknownRecord:
    """A record whose ``kind`` this version does not know, kept verbatim."""

    kind: str
    fields: Mapping[str, Any] = _NO_EXTRA


# ---- message content -------------------------------------------------------------------------


@attrs.frozen
class TextContent:
    KIND: ClassVar[str] = "text"
    text: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class RefusalContent:
    KIND: ClassVar[str] = "refusal"
    refusal: str
    extra_fields: Mapping[str, Any] = _extra()


AnyContent: TypeAlias = TextContent | RefusalContent | UnknownRecord

# ---- items -----------------------------------------------------------------------------------

Role: TypeAlias = Literal["user", "assistant", "system"]


@attrs.frozen
class MessageItem:
    KIND: ClassVar[str] = "message"
    role: Role
    content: tuple[AnyContent, ...]
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class ToolCallItem:
    KIND: ClassVar[str] = "tool_call"
    call_id: str
    name: str
    #: The call's arguments as JSON text, exactly as the model produced them.
    arguments: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class ToolResultItem:
    KIND: ClassVar[str] = "tool_result"
    call_id: str
    summary: str
    content: str | None = None
    is_error: bool = False
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class ReasoningItem:
    KIND: ClassVar[str] = "reasoning"
    text: str
    summary: tuple[str, ...] | None = None
    encrypted_content: str | None = None
    signature: str | None = None
    extra_fields: Mapping[str, Any] = _extra()


AnyItem: TypeAlias = MessageItem | ToolCallItem | ToolResultItem | ReasoningItem | UnknownRecord

# ---- system items (``body`` is the exact text the model saw) ---------------------------------


@attrs.frozen
class NotificationItem:
    KIND: ClassVar[str] = "notification"
    body: str
    message: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class PodEventItem:
    KIND: ClassVar[str] = "pod_event"
    body: str
    event: Any
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class FileAttachmentItem:
    KIND: ClassVar[str] = "file_attachment"
    body: str
    path: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class KnowledgeItem:
    KIND: ClassVar[str] = "knowledge"
    body: str
    slug: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class WorkflowItem:
    KIND: ClassVar[str] = "workflow"
    body: str
    slug: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class TaskReminderItem:
    KIND: ClassVar[str] = "task_reminder"
    body: str
    source: str = "task_inactivity"
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class InterruptItem:
    KIND: ClassVar[str] = "interrupt"
    body: str
    extra_fields: Mapping[str, Any] = _extra()


AnySystemItem: TypeAlias = (
    NotificationItem
    | PodEventItem
    | FileAttachmentItem
    | KnowledgeItem
    | WorkflowItem
    | TaskReminderItem
    | InterruptItem
    | UnknownRecord
)

# ---- user input parts ------------------------------------------------------------------------


@attrs.frozen
class TextPart:
    KIND: ClassVar[str] = "text"
    content: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class PastePart:
    KIND: ClassVar[str] = "paste"
    id: str
    chars: int
    lines: int
    content: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class FileRefPart:
    KIND: ClassVar[str] = "file_ref"
    path: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class KnowledgeRefPart:
    KIND: ClassVar[str] = "knowledge_ref"
    slug: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class WorkflowInvokePart:
    KIND: ClassVar[str] = "workflow_invoke"
    slug: str
    extra_fields: Mapping[str, Any] = _extra()


AnyInputPart: TypeAlias = (
    TextPart | PastePart | FileRefPart | KnowledgeRefPart | WorkflowInvokePart | UnknownRecord
)

# ---- request config and lineage --------------------------------------------------------------


@attrs.frozen
class RequestConfig:
    """Model request settings. Every field is always written (null when unset)."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] = ()
    #: None, an effort label (e.g. ``"high"``) or a token budget.
    reasoning: str | int | None = None
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class SegmentOrigin:
    """Where a segment came from: the parent segment and the turn it was taken at."""

    segment_id: SegmentId
    at_turn_index: int
    extra_fields: Mapping[str, Any] = _extra()


# ---- entries ---------------------------------------------------------------------------------

Trigger: TypeAlias = Literal["user_send", "notify", "pod_event", "system_reminder", "wakeup"]
RunResult: TypeAlias = Literal["finished", "paused", "limit_reached", "yielded"]


@attrs.frozen
class SegmentStart:
    """The first line of every segment: the state the segment starts from."""

    KIND: ClassVar[str] = "segment_start"
    ts: int
    session_id: SessionId
    system_prompt: str | None
    config: RequestConfig
    history: tuple[AnyItem, ...]
    forked_from: SegmentOrigin | None = None
    compacted_from: SegmentOrigin | None = None
    schema_version: int = SCHEMA_VERSION
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class Invoke:
    KIND: ClassVar[str] = "invoke"
    ts: int
    trigger: Trigger
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class UserInput:
    KIND: ClassVar[str] = "user_input"
    ts: int
    segments: tuple[AnyInputPart, ...]
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class AssistantItem:
    KIND: ClassVar[str] = "assistant_item"
    ts: int
    item: AnyItem
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class ToolResult:
    KIND: ClassVar[str] = "tool_result"
    ts: int
    item: AnyItem
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class SystemItem:
    KIND: ClassVar[str] = "system_item"
    ts: int
    item: AnySystemItem
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class TurnEnd:
    KIND: ClassVar[str] = "turn_end"
    ts: int
    #: The turn count after this turn.
    turn_count: int
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class RunCompleted:
    KIND: ClassVar[str] = "run_completed"
    ts: int
    interrupted: bool
    result: RunResult
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class RunErrored:
    KIND: ClassVar[str] = "run_errored"
    ts: int
    interrupted: bool
    message: str
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class PausedTurnAbandoned:
    KIND: ClassVar[str] = "paused_turn_abandoned"
    ts: int
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class ConfigChanged:
    KIND: ClassVar[str] = "config_changed"
    ts: int
    config: RequestConfig
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class LlmUsage:
    KIND: ClassVar[str] = "llm_usage"
    ts: int
    history_len: int
    input_total_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    extra_fields: Mapping[str, Any] = _extra()


@attrs.frozen
class Extension:
    """An opaque record in a named namespace (``payload`` is any JSON value)."""

    KIND: ClassVar[str] = "extension"
    ts: int
    domain: str
    payload: Any
    extra_fields: Mapping[str, Any] = _extra()


Entry: TypeAlias = (
    SegmentStart
    | Invoke
    | UserInput
    | AssistantItem
    | ToolResult
    | SystemItem
    | TurnEnd
    | RunCompleted
    | RunErrored
    | PausedTurnAbandoned
    | ConfigChanged
    | LlmUsage
    | Extension
    | UnknownRecord
)

ENTRY_CLASSES: tuple[type[Any], ...] = (
    SegmentStart,
    Invoke,
    UserInput,
    AssistantItem,
    ToolResult,
    SystemItem,
    TurnEnd,
    RunCompleted,
    RunErrored,
    PausedTurnAbandoned,
    ConfigChanged,
    LlmUsage,
    Extension,
)
ITEM_CLASSES: tuple[type[Any], ...] = (MessageItem, ToolCallItem, ToolResultItem, ReasoningItem)
SYSTEM_ITEM_CLASSES: tuple[type[Any], ...] = (
    NotificationItem,
    PodEventItem,
    FileAttachmentItem,
    KnowledgeItem,
    WorkflowItem,
    TaskReminderItem,
    InterruptItem,
)
INPUT_PART_CLASSES: tuple[type[Any], ...] = (
    TextPart,
    PastePart,
    FileRefPart,
    KnowledgeRefPart,
    WorkflowInvokePart,
)
CONTENT_CLASSES: tuple[type[Any], ...] = (TextContent, RefusalContent)

# ---- the converter ---------------------------------------------------------------------------

# Without detailed validation cattrs generates one straight call per class (much faster);
# errors still name the problem (see ``_describe``) and the caller adds path, line and offset.
converter = cattrs.Converter(detailed_validation=False)

_Structure = Callable[[Mapping[str, Any]], Any]


def _strict_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strict_int(value: Any, _: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _strict_bool(value: Any, _: Any) -> bool:
    if type(value) is not bool:
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _strict_float(value: Any, _: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _canonical_id(value: Any, _: Any) -> str:
    if type(value) is not str or not is_canonical_uuid(value):
        raise ValueError(f"not a canonical UUID: {value!r}")
    return value


def _reasoning(value: Any, _: Any) -> str | int | None:
    if value is None or type(value) is str or type(value) is int:
        return value
    raise TypeError(f"reasoning must be null, a string or an integer, got {value!r}")


def _passthrough(value: Any, _: Any) -> Any:
    return value


converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(float, _strict_float)
converter.register_structure_hook(SessionId, _canonical_id)
converter.register_structure_hook(SegmentId, _canonical_id)


def _json_name(field: attrs.Attribute[Any]) -> str:
    return field.name


def _register_class(cls: type[Any], *, omit_defaults: bool, always: tuple[str, ...] = ()) -> None:
    """Hooks for one tagged class: ``kind`` first, unknown keys kept in ``extra_fields``."""
    fields = [f for f in attrs.fields(cls) if f.name != "extra_fields"]
    known = frozenset([*(_json_name(f) for f in fields), "kind"])
    overrides: dict[str, Any] = {"extra_fields": override(omit=True)}
    for name in always:
        overrides[name] = override(omit_if_default=False)
    if cls is RequestConfig:
        overrides["reasoning"] = override(struct_hook=_reasoning)
    generated_structure = make_dict_structure_fn(
        cls, converter, _cattrs_forbid_extra_keys=False, **overrides
    )
    generated_unstructure = make_dict_unstructure_fn(
        cls, converter, _cattrs_omit_if_default=omit_defaults, **overrides
    )
    kind = getattr(cls, "KIND", None)

    def structure(data: Mapping[str, Any], _: Any = None) -> Any:
        obj = generated_structure(data, cls)
        if not known.issuperset(data):
            extra = {k: v for k, v in data.items() if k not in known}
            obj = attrs.evolve(obj, extra_fields=extra)
        return obj

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": kind} if kind is not None else {}
        out.update(generated_unstructure(obj))
        if obj.extra_fields:
            for key, value in obj.extra_fields.items():
                out.setdefault(key, value)
        return out

    converter.register_structure_hook(cls, structure)
    converter.register_unstructure_hook(cls, unstructure)
    _STRUCTURE[cls] = structure


_STRUCTURE: dict[type[Any], _Structure] = {}


def _unknown_structure(data: Mapping[str, Any]) -> UnknownRecord:
    return UnknownRecord(data["kind"], {k: v for k, v in data.items() if k != "kind"})


def _unknown_unstructure(obj: UnknownRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": obj.kind}
    for key, value in obj.fields.items():
        out.setdefault(key, value)
    return out


def _register_union(union: Any, classes: tuple[type[Any], ...]) -> dict[str, _Structure]:
    by_kind: dict[str, _Structure] = {cls.KIND: _STRUCTURE[cls] for cls in classes}
    get = by_kind.get
    by_class = {cls: converter.get_unstructure_hook(cls) for cls in (*classes, UnknownRecord)}

    def unstructure(obj: Any) -> Any:
        # Dispatch on the exact class: cheaper than cattrs' generic union handling.
        return by_class[type(obj)](obj)

    def unstructure_many(objs: Any) -> list[Any]:
        return [by_class[type(obj)](obj) for obj in objs]

    converter.register_unstructure_hook_func(lambda t: t == union, unstructure)
    many = tuple[union, ...]
    converter.register_unstructure_hook_func(lambda t: t == many, unstructure_many)

    def structure(data: Any, _: Any = None) -> Any:
        if type(data) is not dict:
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        kind = data.get("kind")
        if type(kind) is not str:
            raise TypeError("missing or non-string 'kind'")
        handler: _Structure = get(kind) or _unknown_structure
        return handler(data)

    def structure_many(data: Any, _: Any = None) -> tuple[Any, ...]:
        if type(data) is not list:
            raise TypeError(f"expected a JSON array, got {type(data).__name__}")
        return tuple([structure(item) for item in data])

    converter.register_structure_hook(union, structure)
    converter.register_structure_hook_func(lambda t: t == many, structure_many)
    return by_kind


def _register_all() -> dict[str, _Structure]:
    # Inner types first: a generated function binds the hooks that exist when it is made.
    converter.register_unstructure_hook(UnknownRecord, _unknown_unstructure)
    for classes, union in (
        (CONTENT_CLASSES, AnyContent),
        (ITEM_CLASSES, AnyItem),
        (SYSTEM_ITEM_CLASSES, AnySystemItem),
        (INPUT_PART_CLASSES, AnyInputPart),
    ):
        for cls in classes:
            _register_class(cls, omit_defaults=True)
        _register_union(union, classes)
    _register_class(SegmentOrigin, omit_defaults=False)
    _register_class(RequestConfig, omit_defaults=False)
    for cls in ENTRY_CLASSES:
        always = ("system_prompt", "schema_version") if cls is SegmentStart else ()
        _register_class(cls, omit_defaults=True, always=always)
    return _register_union(Entry, ENTRY_CLASSES)


_ENTRY_BY_KIND = _register_all()
_structure_segment_start = _STRUCTURE[SegmentStart]


def _structure_start(data: Mapping[str, Any]) -> SegmentStart:
    start: SegmentStart = _structure_segment_start(data)
    if "schema_version" not in data:
        start = attrs.evolve(start, schema_version=LEGACY_SCHEMA_VERSION)
    return start


_ENTRY_BY_KIND["segment_start"] = _structure_start


# ---- public codec ----------------------------------------------------------------------------


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """The JSON object of an entry (``kind`` first)."""
    unstructure = _UNSTRUCTURE_BY_CLASS.get(type(entry))
    if unstructure is None:
        raise TypeError(f"not a session entry: {type(entry).__name__}")
    return unstructure(entry)


def entry_from_dict(data: Any) -> Entry:
    """Structure a decoded JSON object into an entry; raise :class:`EntryDecodeError`."""
    if type(data) is not dict:
        raise EntryDecodeError(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if type(kind) is not str:
        raise EntryDecodeError("missing or non-string 'kind'")
    try:
        handler: _Structure = _ENTRY_BY_KIND.get(kind) or _unknown_structure
        return handler(data)  # type: ignore[no-any-return]
    except EntryDecodeError:
        raise
    except Exception as exc:
        raise EntryDecodeError(f"invalid {kind} entry: {_describe(exc)}") from exc


_UNSTRUCTURE_BY_CLASS: dict[type[Any], Callable[[Any], dict[str, Any]]] = {
    cls: converter.get_unstructure_hook(cls) for cls in (*ENTRY_CLASSES, UnknownRecord)
}


def encode_entry(entry: Entry) -> bytes:
    """One compact JSON line for an entry, without the trailing newline."""
    unstructure = _UNSTRUCTURE_BY_CLASS.get(type(entry))
    if unstructure is None:
        raise TypeError(f"not a session entry: {type(entry).__name__}")
    return orjson.dumps(unstructure(entry))


def encode_line(entry: Entry) -> bytes:
    """The entry's JSON line including the trailing newline (one buffer, ready to write)."""
    unstructure = _UNSTRUCTURE_BY_CLASS.get(type(entry))
    if unstructure is None:
        raise TypeError(f"not a session entry: {type(entry).__name__}")
    return orjson.dumps(unstructure(entry), option=orjson.OPT_APPEND_NEWLINE)


def decode_entry(line: bytes) -> Entry:
    """Decode one line (no newline); bad UTF-8 or JSON raises :class:`EntryDecodeError`."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EntryDecodeError(f"invalid JSON: {exc}") from exc
    return entry_from_dict(data)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.ClassValidationError | cattrs.IterableValidationError):
        inner = exc.exceptions
        return "; ".join(_describe(e) for e in inner) if inner else str(exc)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
