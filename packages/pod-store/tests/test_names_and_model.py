"""The name rule and the stored JSON form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from yoi_pod_store.errors import InvalidPodName, InvalidRuntimeId
from yoi_pod_store.model import (
    ActivePointer,
    Peer,
    PodRecord,
    RecordFormatError,
    RuntimeRecord,
    decode_pod_record,
    decode_runtime_record,
    encode_pod_record,
    encode_runtime_record,
)
from yoi_pod_store.names import (
    is_valid_name,
    name_rule_violation,
    validate_pod_name,
    validate_runtime_id,
)

SESSION = "0192f0a0-0000-7000-8000-00000000000a"


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "must not be empty"),
        ("a/b", "must not contain '/'"),
        ("..", "must not be '.' or '..'"),
        (".hidden", "must start with an ASCII letter or digit"),
        ("-rf", "must start with an ASCII letter or digit"),
        ("\u00e9t\u00e9", "must start with an ASCII letter or digit"),
        ("-" + "x" * 79, "must start with an ASCII letter or digit"),  # 80 long: not too long
        ("nul\x00byte", "must not contain NUL"),
        ("tab\tname", "must not contain whitespace"),
        ("line\nbreak", "must not contain whitespace"),
        ("esc\x1b[31m", "must not contain control characters"),
        ("del\x7f", "must not contain control characters"),
        ("c1\x9f", "must not contain control characters"),
        ("x" * 81, "must be at most 80 characters long (got 81)"),
        ("caf\u00e9", "may contain only ASCII letters, digits"),
        ("semi;colon", "may contain only ASCII letters, digits"),
    ],
)
def test_bad_pod_names_say_which_rule_failed(name: str, rule: str) -> None:
    with pytest.raises(InvalidPodName) as caught:
        validate_pod_name(name)
    assert rule in str(caught.value)
    assert caught.value.rule.startswith(rule)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert message.isprintable() and message.isascii(), "names are printed escaped"


def test_message_escapes_and_shortens_hostile_names() -> None:
    with pytest.raises(InvalidPodName) as caught:
        validate_pod_name("\x1b]0;evil\x07" + "y" * 500)
    message = str(caught.value)
    assert "\\x1b" in message and "\x1b" not in message
    assert len(message) < 250


@pytest.mark.parametrize("name", ["a", "A9", "pod-1.worker_2", "0" * 80, "x..y"])
def test_good_names_pass(name: str) -> None:
    assert validate_pod_name(name) == name
    assert validate_runtime_id(name) == name


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        *(("a", True), ("0" * 80, True), ("x..y", True), ("", False), ("..", False)),
        *(("-rf", False), ("a b", False), ("x" * 81, False), ("caf\u00e9", False)),
        *((42, False), (None, False)),
    ],
)
def test_is_valid_name_agrees_with_the_rule(name: object, valid: bool) -> None:
    assert is_valid_name(name) is valid
    assert (name_rule_violation(name) is None) is valid


def test_runtime_ids_follow_the_same_rule_with_their_own_error() -> None:
    with pytest.raises(InvalidRuntimeId, match="invalid runtime id"):
        validate_runtime_id("run time")
    with pytest.raises(InvalidRuntimeId):
        RuntimeRecord("../up")


def test_non_string_names_are_rejected() -> None:
    with pytest.raises(InvalidPodName, match="must be a string"):
        validate_pod_name(42)


def test_stored_json_is_pretty_versioned_ordered_and_omits_empty_values() -> None:
    record = PodRecord(
        "alpha",
        active=ActivePointer(SESSION),
        peers=(Peer("beta"),),
        created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    text = encode_pod_record(record)
    assert text.endswith("}\n")
    assert text.splitlines()[1] == '  "schema_version": 1,'
    body = json.loads(text)
    assert list(body) == ["schema_version", "pod_name", "active", "peers", "created_at"]
    assert body["active"] == {"session_id": SESSION}
    assert body["created_at"] == "2025-01-02T03:04:05Z"
    assert decode_pod_record(text) == record


def test_runtime_record_round_trips() -> None:
    record = RuntimeRecord("rt-1", "Runtime One", SESSION, datetime(2025, 1, 1, tzinfo=UTC))
    text = encode_runtime_record(record)
    assert json.loads(text)["schema_version"] == 1
    assert decode_runtime_record(text) == record


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('{"pod_name": 5}', "expected str"),
        ('{"pod_name": "a", "active": {"session_id": "NOT-A-UUID"}}', "UUID"),
        ('{"pod_name": "a", "created_at": "2025-01-01T00:00:00"}', "UTC offset"),
        ('{"pod_name": "a", "worker_status": "zombie"}', "zombie"),
        ('{"pod_name": "a", "peers": [{"pod_name": "bad name"}]}', "whitespace"),
        ('{"pod_name": "a", "schema_version": "1"}', "schema_version"),
        ("[]", "JSON object"),
        ("{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_invalid_stored_records_explain_what_is_wrong(text: str | bytes, detail: str) -> None:
    with pytest.raises(RecordFormatError, match=detail):
        decode_pod_record(text)
