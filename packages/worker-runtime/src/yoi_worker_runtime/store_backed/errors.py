"""Translating store errors into Runtime errors.

Store libraries raise their own types (and an ``fs`` backend may put a path in a message); the
Runtime promises StoreIo / StoreMissing / StoreCorrupt with store-relative details only, and
InsufficientStorage (a StoreIo) when the store is out of space, whichever store error carries it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from yoi_pod_store.errors import (
    CorruptRecord,
    LeaseLost,
    PodHostedElsewhere,
    PodStoreError,
    UnsafeStoreLayout,
)
from yoi_session_store.errors import (
    CorruptSegmentError,
    SegmentNotFoundError,
    SessionStoreError,
)

from yoi_worker_runtime.errors import LeaseLost as RuntimeLeaseLost
from yoi_worker_runtime.errors import (
    StoreCorrupt,
    StoreIo,
    StoreMissing,
    WorkerConflict,
    WorkerRuntimeError,
    hide_absolute_paths,
    out_of_space,
    store_io_error,
)


def translate_error(exc: BaseException, what: str) -> WorkerRuntimeError | None:
    """The Runtime error for a store failure while working on ``what`` (None: not a store one)."""
    if isinstance(exc, WorkerRuntimeError):
        return exc
    no_space = _out_of_space_behind(exc)
    if no_space is not None:
        return store_io_error(no_space, what)
    if isinstance(exc, LeaseLost):
        return RuntimeLeaseLost(exc.runtime_id, exc.reason)
    if isinstance(exc, PodHostedElsewhere):
        return WorkerConflict(exc.name, f"is hosted by runtime {exc.runtime_id} ({exc.reason})")
    if isinstance(exc, CorruptRecord | UnsafeStoreLayout):
        return StoreCorrupt(f"{what}: {hide_absolute_paths(str(exc))}")
    if isinstance(exc, SegmentNotFoundError):
        return StoreMissing(f"{what}: {exc}")
    if isinstance(exc, CorruptSegmentError):
        return StoreCorrupt(
            f"{what}: line {exc.line} (byte offset {exc.offset}): {hide_absolute_paths(exc.reason)}"
        )
    if isinstance(exc, PodStoreError | SessionStoreError):
        return StoreIo(f"{what}: {hide_absolute_paths(str(exc))}")
    if isinstance(exc, OSError):
        return store_io_error(exc, what)
    return None


def _out_of_space_behind(exc: BaseException) -> OSError | None:
    """The out-of-space OSError behind ``exc`` (itself, or one a store error wraps), if any."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if out_of_space(cause):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


@contextlib.contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Turn store failures inside the block into Runtime errors naming ``what``."""
    try:
        yield
    except Exception as exc:
        translated = translate_error(exc, what)
        if translated is None or translated is exc:
            raise
        raise translated from exc
