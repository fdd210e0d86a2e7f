"""The one name rule for Pod names and runtime ids, applied at every entry point.

A name is 1 to 80 ASCII letters, digits, ``.``, ``_`` or ``-`` and starts with a letter or digit:
``^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$``. So a name is always a safe single path component (no
``/``, no ``.`` or ``..``, no NUL, whitespace or control characters), never looks like a command
line option, and leaves room for the runtime dir in a Unix socket path.
"""

from __future__ import annotations

import re

from yoi_pod_store.errors import InvalidName, InvalidPodName, InvalidRuntimeId

NAME_MAX_LENGTH = 80
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def name_rule_violation(name: object) -> str | None:
    """The rule ``name`` breaks (a human sentence), or ``None`` when it is valid."""
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if NAME_PATTERN.fullmatch(name):
        return None
    if not name:
        return "must not be empty"
    if "\x00" in name:
        return "must not contain NUL"
    if "/" in name:
        return "must not contain '/'"
    if any(ch.isspace() for ch in name):
        return "must not contain whitespace"
    # Equivalent mutants `< -> <=`, `32 -> 33`, `160 -> 161`: taking 0x20 or 0xA0 in changes
    # nothing, both are whitespace and refused just above.
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in name):
        return "must not contain control characters"
    if len(name) > NAME_MAX_LENGTH:
        return f"must be at most {NAME_MAX_LENGTH} characters long (got {len(name)})"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    if not (name[0].isascii() and name[0].isalnum()):
        return "must start with an ASCII letter or digit"
    return "may contain only ASCII letters, digits, '.', '_' and '-'"


def _check(name: object, error: type[InvalidName]) -> str:
    rule = name_rule_violation(name)
    if rule is not None:
        raise error(name, rule)
    assert isinstance(name, str)
    return name


def validate_pod_name(name: object) -> str:
    """Return ``name`` if it is a valid Pod name, else raise :class:`InvalidPodName`."""
    return _check(name, InvalidPodName)


def validate_runtime_id(runtime_id: object) -> str:
    """Return ``runtime_id`` if valid (the Pod name rule), else raise :class:`InvalidRuntimeId`."""
    return _check(runtime_id, InvalidRuntimeId)


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None
