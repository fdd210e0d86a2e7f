# ruff: noqa: N818 - the error names are the Runtime contract's own, shared with REST codes
"""Typed Runtime errors. Each carries a stable ``code`` that the REST adapter returns verbatim.

Messages never contain absolute paths: persistence implementations put store-relative
descriptions into StoreIo / StoreMissing / StoreCorrupt.
"""

from __future__ import annotations

import errno
import os
import re
from typing import TypeGuard

# An absolute POSIX path, or a Windows drive path, inside a message.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])(?:/[^\s'\"/:]+)+/?|\b[A-Za-z]:\\[^\s'\"]*")


def hide_absolute_paths(message: str) -> str:
    """``message`` with every absolute path replaced by ``<path>``: what a store library or the
    operating system says may name where the data lives, and no error message does."""
    return _ABSOLUTE_PATH.sub("<path>", message)


class WorkerRuntimeError(Exception):
    """Base of every error the Runtime raises on purpose."""

    code = "runtime_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fields(self) -> dict[str, str | None]:
        """Members of the REST error body besides ``code`` and ``message`` (none by default)."""
        return {}

    def to_json(self) -> dict[str, str | None]:
        """The ``{"code", "message", ...}`` object of a REST error body."""
        return {"code": self.code, "message": self.message, **self.fields()}


class RuntimeStopped(WorkerRuntimeError):
    """A mutation reached a Runtime that has stopped."""

    code = "runtime_stopped"

    def __init__(self, runtime_id: str) -> None:
        super().__init__(f"runtime {runtime_id} is stopped")
        self.runtime_id = runtime_id


class RuntimeClosed(WorkerRuntimeError):
    """A mutation reached a Runtime whose ``close()`` has run (its store is released)."""

    code = "runtime_closed"

    def __init__(self, runtime_id: str) -> None:
        super().__init__(f"runtime {runtime_id} is closed")
        self.runtime_id = runtime_id


class WrongRuntime(WorkerRuntimeError):
    """A WorkerRef names another Runtime than the one asked."""

    code = "wrong_runtime"

    def __init__(self, worker_id: str, ref_runtime_id: str, runtime_id: str) -> None:
        super().__init__(
            f"worker {worker_id} belongs to runtime {ref_runtime_id}, not runtime {runtime_id}"
        )
        self.worker_id = worker_id
        self.ref_runtime_id = ref_runtime_id
        self.runtime_id = runtime_id


class WrongRuntimeCursor(WorkerRuntimeError):
    """An event cursor names another Runtime than the one asked."""

    code = "wrong_runtime_cursor"

    def __init__(self, cursor_runtime_id: str, runtime_id: str) -> None:
        super().__init__(
            f"event cursor belongs to runtime {cursor_runtime_id}, not runtime {runtime_id}"
        )
        self.cursor_runtime_id = cursor_runtime_id
        self.runtime_id = runtime_id


class WorkerNotFound(WorkerRuntimeError):
    code = "worker_not_found"

    def __init__(self, worker_id: str, runtime_id: str) -> None:
        super().__init__(f"worker {worker_id} was not found in runtime {runtime_id}")
        self.worker_id = worker_id
        self.runtime_id = runtime_id


class WorkerHostedElsewhere(WorkerNotFound):
    """This Runtime does not host the Worker, but the store says which live Runtime does.

    The error body carries ``hosting_runtime_id`` and ``hosting_url`` (the URL that Runtime
    advertises; None when it advertises none), so a client can follow the move.
    """

    code = "worker_hosted_elsewhere"

    def __init__(
        self, worker_id: str, runtime_id: str, hosting_runtime_id: str, hosting_url: str | None
    ) -> None:
        WorkerRuntimeError.__init__(
            self,
            f"worker {worker_id} is not hosted by runtime {runtime_id} but by runtime "
            f"{hosting_runtime_id}" + (f" at {hosting_url}" if hosting_url else ""),
        )
        self.worker_id = worker_id
        self.runtime_id = runtime_id
        self.hosting_runtime_id = hosting_runtime_id
        self.hosting_url = hosting_url

    def fields(self) -> dict[str, str | None]:
        return {"hosting_runtime_id": self.hosting_runtime_id, "hosting_url": self.hosting_url}


class WorkerOrphaned(WorkerHostedElsewhere):
    """The store's record of the Worker names a Runtime whose hosting lease lapsed: nobody
    serves it until a Runtime restores it (by name, or with adoption turned on)."""

    code = "worker_orphaned"

    def __init__(
        self,
        worker_id: str,
        runtime_id: str,
        hosting_runtime_id: str,
        hosting_url: str | None,
        reason: str,
    ) -> None:
        super().__init__(worker_id, runtime_id, hosting_runtime_id, hosting_url)
        WorkerRuntimeError.__init__(
            self,
            f"worker {worker_id} is not hosted by runtime {runtime_id}; its last host, runtime "
            f"{hosting_runtime_id}, is gone ({reason}); create it by name on a running "
            "Runtime to restore it, or serve one with --adopt",
        )


class LeaseLost(WorkerRuntimeError):
    """The Runtime lost its hosting lease on a shared store (it was stopped or cut off for
    longer than the lease lives): another Runtime may host its Workers now, so it writes
    nothing more and answers every Worker request with this until it is restarted."""

    code = "lease_lost"

    def __init__(self, runtime_id: str, reason: str) -> None:
        super().__init__(
            f"runtime {runtime_id} lost its hosting lease ({reason}); it changes nothing "
            "more, and another Runtime may host its Workers now: restart it"
        )
        self.runtime_id = runtime_id
        self.reason = reason


class WorkerConflict(WorkerRuntimeError):
    """A Worker name is already taken: in this Runtime, or by another live Runtime's Pod."""

    code = "worker_conflict"

    def __init__(self, worker_id: str, detail: str) -> None:
        super().__init__(f"worker {worker_id} {detail}")
        self.worker_id = worker_id


class RuntimeAlreadyOpen(WorkerRuntimeError):
    """Another open Runtime (in this or another process) hosts this runtime id on the store.

    Raised while a persistent Runtime opens, before anything is read or written. (The Pod
    store's own ``RuntimeAlreadyHosted`` is what its hosting lease raises underneath; the code
    keeps that name.)
    """

    code = "runtime_already_hosted"

    def __init__(
        self,
        runtime_id: str,
        holder: str | None = None,
        lapses_in: float | None = None,
        *,
        waited: float | None = None,
    ) -> None:
        if waited is not None:
            message = (
                f"runtime {runtime_id} is still held by a hosting lease after waiting "
                f"{waited:.1f} s for it to lapse"
                + (f" ({holder})" if holder else "")
                + ": its holder keeps renewing it, so it is running; stop it first"
            )
        elif lapses_in is None:
            message = (
                f"runtime {runtime_id} is already open in another process (or another Runtime "
                "object) on this store; close it first, or open another runtime id"
            )
        else:
            # A lease that lapses by TTL: its holder may be alive, or dead and not yet judged so.
            message = (
                f"runtime {runtime_id} holds a hosting lease on this store"
                + (f" ({holder})" if holder else "")
                + f"; if that process is still running, stop it first; if it is gone, the "
                f"lease lapses in {max(lapses_in, 0.0):.1f} s: open again then, or wait for "
                "it (--wait-for-lease)"
            )
        super().__init__(message)
        self.runtime_id = runtime_id
        self.holder = holder
        self.lapses_in = lapses_in


class LimitTooLarge(WorkerRuntimeError):
    code = "limit_too_large"

    def __init__(self, limit: int, maximum: int) -> None:
        super().__init__(f"limit {limit} exceeds maximum {maximum}")
        self.limit = limit
        self.maximum = maximum


class InvalidRequest(WorkerRuntimeError):
    """Bad input; nothing was changed. The message reads ``invalid request: <detail>``."""

    code = "invalid_request"

    def __init__(self, detail: str) -> None:
        super().__init__(f"invalid request: {detail}")
        self.detail = detail


class InvalidWorkerId(InvalidRequest):
    """A Worker name or id breaks the name rule; the message says which part of it."""

    code = "invalid_worker_id"


class WorkerNotRunning(InvalidRequest):
    """Input to a Worker that has stopped or been cancelled (a conflict, not malformed input)."""

    code = "worker_not_running"

    def __init__(self, worker_id: str) -> None:
        super().__init__(f"worker {worker_id} is not running")
        self.worker_id = worker_id


class WorkerBusy(WorkerRuntimeError):
    """Input with the ``reject`` busy policy reached a Worker that is running a turn."""

    code = "worker_busy"

    def __init__(self, worker_id: str, turn_id: str) -> None:
        super().__init__(f"worker {worker_id} is running turn {turn_id}; the input was rejected")
        self.worker_id = worker_id
        self.turn_id = turn_id


class UnknownProfile(InvalidRequest):
    """A Worker names a profile (or a profile names an engine) that this Runtime lacks."""

    code = "unknown_profile"

    def __init__(self, detail: str, known: list[str]) -> None:
        shown = ", ".join(known) if known else "none are configured"
        super().__init__(f"{detail}; known profiles: {shown}")
        self.known = known


class UnknownTool(InvalidRequest):
    """A Worker requests a capability that no installed tool provides."""

    code = "unknown_tool"

    def __init__(self, name: str, installed: list[str]) -> None:
        shown = ", ".join(installed) if installed else "none"
        super().__init__(f"no tool named {name!r} is installed (installed tools: {shown})")
        self.name = name


class ToolNotAllowed(InvalidRequest):
    """A Worker requests a tool this Runtime does not allow."""

    code = "tool_not_allowed"

    def __init__(self, name: str, allowed: list[str]) -> None:
        shown = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"the tool {name!r} is not allowed on this Runtime (allowed: {shown}; "
            "the operator allows tools with --allow-tool or allow_tools in the config file)"
        )
        self.name = name


class TurnNotFound(WorkerRuntimeError):
    code = "turn_not_found"

    def __init__(self, worker_id: str, turn_id: str) -> None:
        super().__init__(f"worker {worker_id} has no turn {turn_id}")
        self.worker_id = worker_id
        self.turn_id = turn_id


class StoreIo(WorkerRuntimeError):
    """The store failed to read or write; memory was left as it was before the call."""

    code = "store_io"

    def __init__(self, detail: str) -> None:
        super().__init__(f"store I/O failed: {detail}")
        self.detail = detail


class InsufficientStorage(StoreIo):
    """The store is out of space or over quota: the change was not made, and the same request
    succeeds once space is freed (reads keep working meanwhile)."""

    code = "insufficient_storage"

    def __init__(self, detail: str) -> None:
        WorkerRuntimeError.__init__(
            self,
            f"insufficient storage: {detail}; the change was not made, retry once space is freed",
        )
        self.detail = detail


#: What an OSError from a store means when the disk is full or the quota used up.
_OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def out_of_space(exc: BaseException) -> TypeGuard[OSError]:
    """True for an OSError saying the disk is full or the quota used up (an ``fs`` store reports
    a short write as ENOSPC too)."""
    return isinstance(exc, OSError) and exc.errno in _OUT_OF_SPACE


def store_io_error(exc: OSError, what: str = "") -> StoreIo:
    """The Runtime error of an OSError from a store, naming ``what`` failed and the cause, never
    a path: InsufficientStorage when out of space, else StoreIo."""
    prefix = f"{what}: " if what else ""
    if exc.errno is not None and out_of_space(exc):
        return InsufficientStorage(prefix + os.strerror(exc.errno))
    return StoreIo(prefix + (exc.strerror or type(exc).__name__))


class StoreMissing(WorkerRuntimeError):
    code = "store_missing"

    def __init__(self, detail: str) -> None:
        super().__init__(f"store is missing: {detail}")
        self.detail = detail


class StoreCorrupt(WorkerRuntimeError):
    code = "store_corrupt"

    def __init__(self, detail: str) -> None:
        super().__init__(f"store is corrupt: {detail}")
        self.detail = detail


class FeatureNotInstalled(WorkerRuntimeError, ImportError):
    """An optional feature's libraries are absent; the message names the extra to install.

    It is also an ImportError, so an optional module that checks its feature on import fails
    the way Python code expects a missing dependency to fail.
    """

    code = "feature_not_installed"

    def __init__(self, feature: str, missing: list[str]) -> None:
        super().__init__(
            f"the {feature} feature needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: "
            f"install yoi-worker-runtime[{feature}]"
        )
        self.feature = feature
        self.missing = missing


#: Every error code, for adapters that map codes to transport statuses.
ERROR_CODES: tuple[str, ...] = tuple(
    cls.code
    for cls in (
        RuntimeStopped,
        RuntimeClosed,
        WrongRuntime,
        WrongRuntimeCursor,
        WorkerNotFound,
        WorkerHostedElsewhere,
        WorkerOrphaned,
        LeaseLost,
        WorkerConflict,
        RuntimeAlreadyOpen,
        LimitTooLarge,
        InvalidRequest,
        InvalidWorkerId,
        WorkerNotRunning,
        WorkerBusy,
        UnknownProfile,
        UnknownTool,
        ToolNotAllowed,
        TurnNotFound,
        StoreIo,
        InsufficientStorage,
        StoreMissing,
        StoreCorrupt,
        FeatureNotInstalled,
    )
)
