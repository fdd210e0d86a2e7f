"""Pod and runtime records and their JSON form.

A Pod record is thin current state keyed by the Pod name; its history lives in session logs.
On disk it is pretty JSON (2-space indent) with ``schema_version`` first, then the keys in the
order of :class:`PodRecord`'s fields; empty arrays and absent values are omitted. Records
written before schema versions existed (no ``schema_version`` key, the original Pod shape) read
as version 0, which has the same keys. Unknown top-level keys are preserved: they are kept in
``extra`` and written back, so an older writer does not drop what a newer one added. Unknown keys
inside nested objects are ignored. A record of a newer schema version than this library knows
is reported as corrupt rather than rewritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import attrs
import cattrs

from yoi_pod_store.names import validate_pod_name, validate_runtime_id

#: Version written into every Pod record; 0 is the unversioned original shape.
POD_RECORD_SCHEMA_VERSION = 1
#: Version written into every runtime record.
RUNTIME_RECORD_SCHEMA_VERSION = 1

#: Any value JSON can hold (objects, arrays, strings, numbers, booleans, null).
JsonValue = Any

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _session_uuid(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None and attribute.default is None:
        return
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ValueError(f"{attribute.name} must be a lowercase hyphenated UUID, got {value!r:.80}")


def _pod_name(_: object, __: attrs.Attribute[Any], value: object) -> None:
    validate_pod_name(value)


def _runtime_id(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None and attribute.default is None:
        return
    validate_runtime_id(value)


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be timezone-aware")


def _optional_str(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a string or None")


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"


class WorkerStatus(StrEnum):
    """What the hosting Runtime last said about the Worker."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    FAILED = "failed"


@attrs.frozen
class ActivePointer:
    """The session a Pod writes to; ``segment_id`` is ``None`` while pending (no segment yet)."""

    session_id: str = attrs.field(validator=_session_uuid)
    segment_id: str | None = attrs.field(default=None, validator=_session_uuid)

    @property
    def pending(self) -> bool:
        return self.segment_id is None


@attrs.frozen
class ScopeGrant:
    target: str
    permission: Permission
    recursive: bool = False


@attrs.frozen
class SpawnedChild:
    """A child with outstanding delegated scope; paths and addresses are last-known hints."""

    pod_name: str = attrs.field(validator=_pod_name)
    socket_path: str | None = None
    scope_delegated: tuple[ScopeGrant, ...] = ()
    callback_address: str | None = None


@attrs.frozen
class ReclaimedChild:
    """Audit entry of a delegation taken back from a child."""

    pod_name: str = attrs.field(validator=_pod_name)
    scope_delegated: tuple[ScopeGrant, ...] = ()


@attrs.frozen
class Peer:
    pod_name: str = attrs.field(validator=_pod_name)


def _children(values: Iterable[SpawnedChild]) -> tuple[SpawnedChild, ...]:
    return tuple(values)


def _reclaimed(values: Iterable[ReclaimedChild]) -> tuple[ReclaimedChild, ...]:
    return tuple(values)


def _peers(values: Iterable[Peer]) -> tuple[Peer, ...]:
    return tuple(values)


@attrs.frozen
class PodRecord:
    """The metadata of one Pod."""

    pod_name: str = attrs.field(validator=_pod_name)
    active: ActivePointer | None = None
    workspace_root: str | None = attrs.field(default=None, validator=_optional_str)
    spawned_children: tuple[SpawnedChild, ...] = attrs.field(default=(), converter=_children)
    reclaimed_children: tuple[ReclaimedChild, ...] = attrs.field(default=(), converter=_reclaimed)
    peers: tuple[Peer, ...] = attrs.field(default=(), converter=_peers)
    #: The fully resolved configuration; restore-by-name uses it instead of re-resolving.
    resolved_manifest_snapshot: JsonValue = None
    #: Runtime currently (or last) hosting this Pod; liveness is probed through it.
    hosting_runtime_id: str | None = attrs.field(default=None, validator=_runtime_id)
    #: Where the hosting runtime answers (the ``fs`` backend: its socket path); a hint only.
    liveness_hint: str | None = attrs.field(default=None, validator=_optional_str)
    worker_status: WorkerStatus | None = None
    created_at: datetime | None = attrs.field(default=None, validator=_aware)
    last_activity_at: datetime | None = attrs.field(default=None, validator=_aware)
    #: Unknown top-level keys read from storage, written back unchanged.
    extra: Mapping[str, JsonValue] = attrs.field(factory=dict, repr=False)

    @property
    def peer_names(self) -> tuple[str, ...]:
        return tuple(peer.pod_name for peer in self.peers)


@attrs.frozen
class RuntimeRecord:
    """What a Runtime keeps about itself in the data dir (``runtimes/<runtime_id>/``)."""

    runtime_id: str = attrs.field(validator=_runtime_id)
    display_name: str | None = attrs.field(default=None, validator=_optional_str)
    #: The session the Runtime keeps its own event log in; counts as a session reference.
    events_session_id: str | None = attrs.field(default=None, validator=_session_uuid)
    created_at: datetime | None = attrs.field(default=None, validator=_aware)
    extra: Mapping[str, JsonValue] = attrs.field(factory=dict, repr=False)


class RecordFormatError(ValueError):
    """Raised by the decoders; backends turn it into a ``Corrupt*Record`` error."""


def _strict(kind: type[Any]) -> Any:
    def structure(value: object, _: object) -> Any:
        # cattrs would happily turn 5 into "5"; a record with the wrong JSON type is corrupt.
        if type(value) is not kind and not (kind is float and type(value) is int):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(omit_if_default=True)
    for kind in (str, int, bool, float):
        converter.register_structure_hook(kind, _strict(kind))
    for enum in (Permission, WorkerStatus):
        converter.register_structure_hook(enum, _enum_value)
    converter.register_unstructure_hook(datetime, _format_time)
    converter.register_structure_hook(datetime, lambda value, _: _parse_time(value))
    converter.register_unstructure_hook(
        tuple, lambda value: [converter.unstructure(v) for v in value]
    )
    for cls in (PodRecord, RuntimeRecord):
        converter.register_unstructure_hook(
            cls,
            cattrs.gen.make_dict_unstructure_fn(
                cls, converter, _cattrs_omit_if_default=True, extra=cattrs.gen.override(omit=True)
            ),
        )
        converter.register_structure_hook(
            cls,
            cattrs.gen.make_dict_structure_fn(cls, converter, extra=cattrs.gen.override(omit=True)),
        )
    return converter


def _enum_value(value: object, kind: type[StrEnum]) -> StrEnum:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValueError(f"{value!r:.40} is not one of {allowed}") from None


def _describe(exc: BaseException, kind: type[Any] | None) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (TypeError, ValueError)) and not isinstance(exc, cattrs.BaseValidationError):
        return str(exc)
    return cattrs.v.format_exception(exc, kind)


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an RFC 3339 timestamp string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    if parsed.utcoffset() is None:
        raise ValueError(f"timestamp {value!r:.40} has no UTC offset")
    return parsed


_converter = _make_converter()

_POD_KEYS = frozenset(field.name for field in attrs.fields(PodRecord)) - {"extra"}
_RUNTIME_KEYS = frozenset(field.name for field in attrs.fields(RuntimeRecord)) - {"extra"}
_SCHEMA_KEY = "schema_version"

_Record = TypeVar("_Record", PodRecord, RuntimeRecord)


def _encode(record: PodRecord | RuntimeRecord, version: int) -> str:
    body: dict[str, Any] = {_SCHEMA_KEY: version}
    body.update(_converter.unstructure(record))
    for key, value in record.extra.items():
        body.setdefault(key, value)
    try:
        return json.dumps(body, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise RecordFormatError(f"record cannot be stored as JSON: {exc}") from exc


def _decode(text: str | bytes, cls: type[_Record], keys: frozenset[str], newest: int) -> _Record:
    try:
        body = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordFormatError(f"not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise RecordFormatError("JSON nested too deeply") from exc
    if not isinstance(body, dict):
        raise RecordFormatError(f"expected a JSON object, got {type(body).__name__}")
    version = body.get(_SCHEMA_KEY, 0)
    if type(version) is not int or version < 0:
        raise RecordFormatError(
            f"schema_version must be a non-negative integer, got {version!r:.40}"
        )
    if version > newest:
        raise RecordFormatError(
            f"schema_version {version} is newer than this yoi-pod-store understands ({newest}); "
            "upgrade yoi-pod-store"
        )
    known = {key: value for key, value in body.items() if key in keys}
    extra = {key: value for key, value in body.items() if key not in keys and key != _SCHEMA_KEY}
    try:
        record = _converter.structure(known, cls)
    except cattrs.BaseValidationError as exc:
        raise RecordFormatError(
            "; ".join(cattrs.transform_error(exc, format_exception=_describe))
        ) from exc
    except (TypeError, ValueError) as exc:
        raise RecordFormatError(str(exc)) from exc
    return attrs.evolve(record, extra=extra) if extra else record


def encode_pod_record(record: PodRecord) -> str:
    """The record as stored: pretty JSON, 2-space indent, trailing newline."""
    return _encode(record, POD_RECORD_SCHEMA_VERSION)


def decode_pod_record(text: str | bytes) -> PodRecord:
    """Parse a stored Pod record of any known schema version; raise :class:`RecordFormatError`."""
    return _decode(text, PodRecord, _POD_KEYS, POD_RECORD_SCHEMA_VERSION)


def encode_runtime_record(record: RuntimeRecord) -> str:
    return _encode(record, RUNTIME_RECORD_SCHEMA_VERSION)


def decode_runtime_record(text: str | bytes) -> RuntimeRecord:
    return _decode(text, RuntimeRecord, _RUNTIME_KEYS, RUNTIME_RECORD_SCHEMA_VERSION)
