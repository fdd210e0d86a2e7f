"""Reading a stored record back for the name (or runtime id) it is stored under.

Every backend keeps records keyed by name; a record that does not parse, or that names another
Pod than its key, is corrupt. Backends, built-in or third-party, share these two checks.
"""

from __future__ import annotations

from yoi_pod_store.errors import CorruptPodRecord, CorruptRuntimeRecord, safe_repr
from yoi_pod_store.model import (
    PodRecord,
    RecordFormatError,
    RuntimeRecord,
    decode_pod_record,
    decode_runtime_record,
)


def load_pod_record(name: str, data: str | bytes) -> PodRecord:
    """The Pod record stored under ``name``; :class:`CorruptPodRecord` if it is not one."""
    try:
        record = decode_pod_record(data)
    except RecordFormatError as exc:
        raise CorruptPodRecord(name, str(exc)) from exc
    if record.pod_name != name:
        raise CorruptPodRecord(name, f"the record names {safe_repr(record.pod_name)}")
    return record


def load_runtime_record(runtime_id: str, data: str | bytes) -> RuntimeRecord:
    """The runtime record stored under ``runtime_id``; :class:`CorruptRuntimeRecord` if not."""
    try:
        record = decode_runtime_record(data)
    except RecordFormatError as exc:
        raise CorruptRuntimeRecord(runtime_id, str(exc)) from exc
    if record.runtime_id != runtime_id:
        raise CorruptRuntimeRecord(runtime_id, f"the record names {safe_repr(record.runtime_id)}")
    return record
