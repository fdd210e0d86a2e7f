"""Session and segment ids: UUIDv7, monotonic within a process, canonical lowercase text.

Ids are plain ``str`` values at runtime (cheap to compare, hash and serialise) typed as
``SessionId`` / ``SegmentId`` for the checker. Only the canonical form
``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`` in lowercase hex is accepted: a directory or record
named any other way is not a session, so no two spellings can name the same log.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import NewType

from yoi_session_store.errors import InvalidIdError

SessionId = NewType("SessionId", str)
SegmentId = NewType("SegmentId", str)

_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_TAIL_BITS = 74  # 12 bits rand_a + 62 bits rand_b
_TAIL_LIMIT = 1 << _TAIL_BITS
_lock = threading.Lock()
_last_ms = 0
_last_tail = 0


def is_canonical_uuid(text: str) -> bool:
    """True for a lowercase, hyphenated, 36-character UUID (any version)."""
    return len(text) == 36 and _CANONICAL.fullmatch(text) is not None


def _random_bits(bits: int) -> int:
    # os.urandom differs in each forked child, so two forks never continue one sequence.
    return int.from_bytes(os.urandom((bits + 7) // 8), "big") >> (-bits % 8)


def uuid7() -> str:
    """A new UUIDv7 string, strictly greater than every earlier one from this process.

    Within one millisecond the 74 random bits are treated as a counter advanced by a random
    step, so ids stay both ordered and unguessable; on counter overflow the timestamp moves on.
    """
    global _last_ms, _last_tail
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            ms = now_ms
            tail = _random_bits(_TAIL_BITS - 1)  # headroom for increments in the same ms
        else:
            ms = _last_ms
            tail = _last_tail + 1 + _random_bits(32)
            if tail >= _TAIL_LIMIT:
                ms += 1
                tail = _random_bits(_TAIL_BITS - 1)
        _last_ms, _last_tail = ms, tail
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (tail >> 62) << 64
        | 0b10 << 62
        | (tail & ((1 << 62) - 1))
    )
    hex_ = f"{value:032x}"
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


def new_session_id() -> SessionId:
    return SessionId(uuid7())


def new_segment_id() -> SegmentId:
    return SegmentId(uuid7())


def parse_session_id(text: str) -> SessionId:
    """Validate a session id; raise :class:`InvalidIdError` unless it is canonical."""
    if not isinstance(text, str) or not is_canonical_uuid(text):
        raise InvalidIdError(f"invalid session id {text!r}: expected a lowercase canonical UUID")
    return SessionId(text)


def parse_segment_id(text: str) -> SegmentId:
    """Validate a segment id; raise :class:`InvalidIdError` unless it is canonical."""
    if not isinstance(text, str) or not is_canonical_uuid(text):
        raise InvalidIdError(f"invalid segment id {text!r}: expected a lowercase canonical UUID")
    return SegmentId(text)


def uuid7_timestamp_ms(text: str) -> int:
    """The millisecond timestamp embedded in a UUIDv7 string."""
    return int(text[:8] + text[9:13], 16)
