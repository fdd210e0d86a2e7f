"""Runtime and Worker identities: the name rule and ids unique across processes and hosts."""

from __future__ import annotations

import os
import re
import time
from typing import TypeAlias

from yoi_worker_runtime.errors import InvalidWorkerId

#: An opaque, non-blank Runtime id (`runtime-` + UUIDv7 hex when generated).
RuntimeId: TypeAlias = str
#: An opaque, non-blank Worker id: a caller-chosen name or `worker-` + UUIDv7 hex.
WorkerId: TypeAlias = str

#: The Pod name rule: a Worker's name is also its Pod's name in a persistent store.
WORKER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
WORKER_NAME_MAX_LENGTH = 80
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_NAME_CHAR_RE = re.compile(r"[A-Za-z0-9._-]")


def validate_worker_name(name: object, *, what: str = "worker name") -> str:
    """Return ``name`` if it follows the name rule, else raise InvalidWorkerId naming the rule."""
    if not isinstance(name, str):
        raise InvalidWorkerId(f"{what} must be a string")
    if _NAME_RE.fullmatch(name):
        return name
    if not name:
        raise InvalidWorkerId(f"{what} must not be empty")
    if len(name) > WORKER_NAME_MAX_LENGTH:
        raise InvalidWorkerId(
            f"{what} is {len(name)} characters long; at most {WORKER_NAME_MAX_LENGTH} are allowed"
        )
    if not _NAME_CHAR_RE.fullmatch(name[0]) or name[0] in "._-":
        raise InvalidWorkerId(f"{what} {name!r} must start with an ASCII letter or digit")
    bad = next(char for char in name if not _NAME_CHAR_RE.fullmatch(char))
    raise InvalidWorkerId(
        f"{what} {name!r} contains {bad!r}; "
        "only ASCII letters, digits, '.', '_' and '-' are allowed"
    )


def uuid7_hex() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: 48-bit Unix milliseconds, then 74 random bits.

    Time first makes generated ids sort roughly by creation; the random bits make them unique
    across processes and hosts without any coordination.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)  # 62 bits
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return f"{value:032x}"


def new_runtime_id() -> RuntimeId:
    """A fresh Runtime id, unique across processes and hosts."""
    return f"runtime-{uuid7_hex()}"


def new_worker_id() -> WorkerId:
    """A fresh Worker id (it also satisfies the name rule), unique across processes and hosts."""
    return f"worker-{uuid7_hex()}"


def new_turn_id() -> str:
    """A fresh turn id, unique across Workers, processes and hosts."""
    return f"turn-{uuid7_hex()}"
