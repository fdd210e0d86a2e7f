"""Entries of a session log and their JSON form.

One entry is one compact JSON object on one line, with ``kind`` as its first key. Items, system
items, input parts and message content are ``kind``-tagged the same way. Fields this version does
not know are kept in ``extra_fields`` (and whole records of an unknown ``kind`` as
:class:`UnknownRecord`), so a log written by a newer version survives a rewrite unchanged.

Lines are parsed by orjson and structured by per-class functions generated at import (see
``_codec``: exact type checks, no copy of the object unless it has unknown keys, instances filled
through their slots), behind a ``kind`` dispatch: decoding and structuring a line together stay
cheaper than ``json.loads`` of it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeAlias

import attrs
import cattrs
import orjson

from yoi_session_store._codec import ClassCodecs, UnionCodec
from yoi_session_store.errors import EntryDecodeError
from yoi_session_store.ids import SegmentId, SessionId

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

# ---- the codec -------------------------------------------------------------------------------

# The per-class functions are generated (see ``_codec``); the cattrs converter carries them as
# its hooks, so ``converter.structure`` / ``converter.unstructure`` agree with the codec, and it
# unstructures the free-form ``Any`` fields (``payload``, ``event``).
converter = cattrs.Converter(detailed_validation=False)


def _unknown_structure(data: Mapping[str, Any]) -> UnknownRecord:
    return UnknownRecord(data["kind"], {k: v for k, v in data.items() if k != "kind"})


def _unknown_unstructure(obj: UnknownRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": obj.kind}
    for key, value in obj.fields.items():
        out.setdefault(key, value)
    return out


def _build_codecs() -> tuple[ClassCodecs, UnionCodec]:
    unions = {
        union: UnionCodec(UnknownRecord, _unknown_structure, _unknown_unstructure)
        for union in (AnyContent, AnyItem, AnySystemItem, AnyInputPart, Entry)
    }
    codecs = ClassCodecs(unions, converter.unstructure)
    converter.register_unstructure_hook(UnknownRecord, _unknown_unstructure)
    # Inner types first: a generated function binds the functions of the classes it contains.
    groups: list[tuple[tuple[type[Any], ...], Any]] = [
        (CONTENT_CLASSES, AnyContent),
        (ITEM_CLASSES, AnyItem),
        (SYSTEM_ITEM_CLASSES, AnySystemItem),
        (INPUT_PART_CLASSES, AnyInputPart),
        ((SegmentOrigin, RequestConfig), None),
        (ENTRY_CLASSES, Entry),
    ]
    for classes, union in groups:
        for cls in classes:
            tagged = union is not None
            always = ("system_prompt", "schema_version") if cls is SegmentStart else ()
            structure = codecs.make_structure(cls)
            unstructure = codecs.make_unstructure(cls, omit_defaults=tagged, always=always)
            if tagged:
                unions[union].add(cls, structure, unstructure)
            _register_class_hooks(cls, structure, unstructure)
        if union is not None:
            _register_union_hooks(union, unions[union])
    # A segment_start without ``schema_version`` predates versioning: it reads as version 0.
    entries = unions[Entry]
    entries.by_kind["segment_start"] = codecs.make_structure(
        SegmentStart, defaults={"schema_version": LEGACY_SCHEMA_VERSION}
    )
    return codecs, entries


def _register_class_hooks(cls: type[Any], structure: _Structure, unstructure: _Unstructure) -> None:
    kind = getattr(cls, "KIND", None)

    def structure_hook(data: Any, _: Any) -> Any:
        if type(data) is not dict:
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        if kind is not None and "kind" not in data:
            data = {"kind": kind, **data}  # the generated function counts ``kind`` as present
        return structure(data)

    converter.register_structure_hook(cls, structure_hook)
    converter.register_unstructure_hook(cls, unstructure)


def _register_union_hooks(union: Any, codec: UnionCodec) -> None:
    structure, unstructure = codec.structure, codec.unstructure
    many = tuple[union, ...]

    def structure_many(data: Any, _: Any) -> tuple[Any, ...]:
        if type(data) is not list:
            raise TypeError(f"expected a JSON array, got {type(data).__name__}")
        return tuple([structure(item) for item in data])

    converter.register_structure_hook_func(lambda t: t == union, lambda d, _: structure(d))
    converter.register_unstructure_hook_func(lambda t: t == union, unstructure)
    converter.register_structure_hook_func(lambda t: t == many, structure_many)
    converter.register_unstructure_hook_func(
        lambda t: t == many, lambda objs: [unstructure(obj) for obj in objs]
    )


_Structure = Callable[[dict[str, Any]], Any]
_Unstructure = Callable[[Any], Any]
_CODECS, _ENTRIES = _build_codecs()
_ENTRY_BY_KIND = _ENTRIES.by_kind
_UNSTRUCTURE_BY_CLASS: dict[type[Any], Callable[[Any], dict[str, Any]]] = _ENTRIES.by_class


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
        entry: Entry = (_ENTRY_BY_KIND.get(kind) or _unknown_structure)(data)
        return entry
    except Exception as exc:
        raise EntryDecodeError(f"invalid {kind} entry: {_describe(exc)}") from exc


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
    return _dumps(unstructure(entry), option=_APPEND_NEWLINE)


_dumps = orjson.dumps
_APPEND_NEWLINE = orjson.OPT_APPEND_NEWLINE


def decode_entry(line: bytes) -> Entry:
    """Decode one line (no newline); bad UTF-8 or JSON raises :class:`EntryDecodeError`."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EntryDecodeError(f"invalid JSON: {exc}") from exc
    return entry_from_dict(data)


class _EntryDispatch(dict[str, _Structure]):
    """``kind`` to structure function; an unknown string kind is kept as an UnknownRecord."""

    def __missing__(self, kind: Any) -> _Structure:
        if type(kind) is not str:
            raise TypeError("missing or non-string 'kind'")
        return _unknown_structure


_ENTRY_DISPATCH = _EntryDispatch(_ENTRY_BY_KIND)


def _decode_lines_fast(lines: Iterable[bytes]) -> list[Entry]:
    """Decode many lines at once, as fast as possible, or raise *some* exception.

    The caller re-decodes line by line with :func:`decode_entry` when this raises, to report
    which line is bad and why. Accepts exactly the lines :func:`decode_entry` accepts, and
    returns the same entries.
    """
    loads = orjson.loads
    by_kind = _ENTRY_DISPATCH
    out: list[Entry] = []
    append = out.append
    for line in lines:
        data = loads(line)
        append(by_kind[data["kind"]](data))
    return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.ClassValidationError | cattrs.IterableValidationError):
        inner = exc.exceptions
        return "; ".join(_describe(e) for e in inner) if inner else str(exc)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
