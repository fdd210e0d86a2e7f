"""Every error the Pod store raises.

Messages never contain filesystem paths (they are shown to users and may end up in logs of
another host); a backend that knows where a broken record lives says so in ``location``.
"""

from __future__ import annotations


class PodStoreError(Exception):
    """Base class of every error raised by a Pod store."""


class InvalidName(PodStoreError, ValueError):  # noqa: N818 (upstream error names)
    """A Pod name or runtime id breaks the name rule; ``rule`` says which part."""

    kind = "name"

    def __init__(self, name: object, rule: str) -> None:
        self.name = name
        self.rule = rule
        super().__init__(f"invalid {self.kind} {safe_repr(name)}: {rule}")


class InvalidPodName(InvalidName):
    """A Pod name breaks the name rule."""

    kind = "pod name"


class InvalidRuntimeId(InvalidName):
    """A runtime id breaks the name rule (runtime ids follow the Pod name rule)."""

    kind = "runtime id"


class InvalidRecord(PodStoreError, ValueError):  # noqa: N818 (upstream error names)
    """A record given to the store cannot be stored (for example a value JSON cannot hold)."""


class CorruptRecord(PodStoreError):  # noqa: N818 (upstream error names)
    """A stored record exists but cannot be read as a valid record.

    ``detail`` says what is wrong; ``location`` is where the backend keeps it (a file path for the
    ``fs`` backend), kept out of the message.
    """

    kind = "record"

    def __init__(self, name: str, detail: str, location: str | None = None) -> None:
        self.name = name
        self.detail = detail
        self.location = location
        super().__init__(f"{self.kind} {safe_repr(name)} is corrupt: {detail}")


class CorruptPodRecord(CorruptRecord):
    """A Pod's metadata exists but is unreadable, invalid, or names a different Pod."""

    kind = "pod metadata"


class CorruptRuntimeRecord(CorruptRecord):
    """A runtime record exists but is unreadable or invalid."""

    kind = "runtime record"


class PodLockTimeout(PodStoreError):  # noqa: N818 (upstream error names)
    """The per-name lock stayed held by someone else for longer than the store's lock timeout."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        super().__init__(
            f"pod {safe_repr(name)} stayed locked by another process for {timeout:g} s"
        )


class HostingError(PodStoreError):
    """A Runtime could not establish, use or keep its hosting lease."""


class RuntimeAlreadyHosted(HostingError):  # noqa: N818 (upstream error names)
    """Another open lease (in this or another process) already hosts this runtime id."""

    def __init__(
        self, runtime_id: str, holder: str | None = None, lapses_in: float | None = None
    ) -> None:
        self.runtime_id = runtime_id
        #: Who holds the lease, when the backend knows (``host NAME pid N``).
        self.holder = holder
        #: Seconds until the lease can be taken unless its holder renews it; None when the
        #: backend's leases do not lapse (they end with the process holding them).
        self.lapses_in = lapses_in
        message = f"runtime {safe_repr(runtime_id)} is already hosted by an open lease"
        if holder is not None:
            message += f" ({holder})"
        if lapses_in is not None:
            message += f"; if that process is gone, the lease lapses in {max(lapses_in, 0.0):.1f} s"
        super().__init__(message)


class LeaseClosed(HostingError):  # noqa: N818 (upstream error names)
    """The hosting lease was closed; it can no longer claim Pods."""

    def __init__(self, runtime_id: str) -> None:
        self.runtime_id = runtime_id
        super().__init__(f"the hosting lease of runtime {safe_repr(runtime_id)} is closed")


class LeaseLost(HostingError):  # noqa: N818 (upstream error names)
    """The hosting lease lapsed (e.g. it could not be renewed in time) and cannot come back.

    Other hosts may already judge the runtime's Pods stopped, so the Runtime must stop writing.
    """

    def __init__(self, runtime_id: str, reason: str) -> None:
        self.runtime_id = runtime_id
        self.reason = reason
        super().__init__(f"the hosting lease of runtime {safe_repr(runtime_id)} is lost: {reason}")


class PodHostedElsewhere(HostingError):  # noqa: N818 (upstream error names)
    """A claim found the Pod hosted by another runtime that is live (or may be)."""

    def __init__(self, name: str, runtime_id: str, reason: str) -> None:
        self.name = name
        self.runtime_id = runtime_id
        self.reason = reason
        super().__init__(
            f"pod {safe_repr(name)} is hosted by runtime {safe_repr(runtime_id)}: {reason}"
        )


class StoreUrlError(PodStoreError, ValueError):
    """A store URL is malformed or names a location that cannot be resolved."""


def safe_repr(value: object, limit: int = 120) -> str:
    """``repr`` of a user-supplied value, escaped and cut so it is safe to print anywhere."""
    text = ascii(value) if isinstance(value, str) else f"<{type(value).__name__}>"
    if len(text) > limit:
        text = text[: limit - 4] + "...'"
    return text


class UnsafeStoreLayout(PodStoreError):  # noqa: N818 (upstream error names)
    """A directory of the store is a symlink or not a directory; the store refuses to follow it."""
