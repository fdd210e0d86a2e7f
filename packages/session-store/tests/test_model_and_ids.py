"""Ids, the JSON codec and replay."""

from __future__ import annotations

import uuid

import orjson
import pytest
from yoi_session_store import history
from yoi_session_store.errors import EntryDecodeError, InvalidIdError
from yoi_session_store.ids import (
    new_segment_id,
    new_session_id,
    parse_session_id,
    uuid7,
    uuid7_timestamp_ms,
)
from yoi_session_store.model import (
    MessageItem,
    RequestConfig,
    SegmentStart,
    TaskReminderItem,
    TextContent,
    ToolResultItem,
    UnknownRecord,
    decode_entry,
    encode_entry,
)
from yoi_session_store.testing.samples import every_entry_kind


def test_uuid7_is_monotonic_canonical_and_versioned() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for text in ids[:100]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
    assert abs(uuid7_timestamp_ms(ids[-1]) - uuid7_timestamp_ms(str(new_session_id()))) < 5_000


def test_non_canonical_ids_are_rejected() -> None:
    good = str(new_segment_id())
    assert parse_session_id(good) == good
    for bad in (good.upper(), "{" + good + "}", good.replace("-", ""), good + " ", "urn:" + good):
        with pytest.raises(InvalidIdError):
            parse_session_id(bad)


def test_json_shape_kind_first_and_omissions() -> None:
    session = new_session_id()
    for entry in every_entry_kind(session, new_segment_id()):
        line = encode_entry(entry)
        assert line.startswith(b'{"kind":"') and b"\n" not in line
        assert decode_entry(line) == entry
    start = orjson.loads(encode_entry(every_entry_kind(session, new_segment_id())[0]))
    assert start["system_prompt"] is None  # always written
    assert start["config"] == {
        "max_tokens": None,
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "stop_sequences": [],
        "reasoning": "high",
    }
    assert orjson.loads(orjson.dumps(encode_entry_item(ToolResultItem("c", "s")))) == {
        "kind": "tool_result",
        "call_id": "c",
        "summary": "s",
    }


def encode_entry_item(item: ToolResultItem) -> object:
    from yoi_session_store.model import converter

    return converter.unstructure(item)


def test_defaults_fill_missing_optional_fields() -> None:
    line = b'{"kind":"system_item","ts":1,"item":{"kind":"task_reminder","body":"b"}}'
    entry = decode_entry(line)
    assert getattr(entry, "item", None) == TaskReminderItem("b", "task_inactivity")


def test_unknown_fields_survive_at_every_level() -> None:
    line = (
        b'{"kind":"config_changed","ts":1,"config":{"max_tokens":null,"temperature":1.0,'
        b'"top_p":null,"top_k":null,"stop_sequences":[],"reasoning":null,"x_cfg":1},'
        b'"x_top":{"a":[1]}}'
    )
    entry = decode_entry(line)
    assert getattr(entry, "extra_fields", None) == {"x_top": {"a": [1]}}
    assert encode_entry(entry) == line
    plain = decode_entry(b'{"kind":"turn_end","ts":1,"turn_count":2}')
    assert not getattr(plain, "extra_fields", None)


def test_unknown_kinds_are_records_not_errors() -> None:
    line = b'{"kind":"assistant_item","ts":1,"item":{"kind":"image","url":"u"}}'
    entry = decode_entry(line)
    assert getattr(entry, "item", None) == UnknownRecord("image", {"url": "u"})
    assert encode_entry(entry) == line


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"{",
        b"[]",
        b'{"ts":1}',
        b'{"kind":7}',
        b'{"kind":"turn_end","ts":1}',
        b'{"kind":"turn_end","ts":1,"turn_count":"2"}',
        b'{"kind":"run_completed","ts":1,"interrupted":0,"result":"finished"}',
        b'{"kind":"invoke","ts":1,"trigger":"sometimes"}',
        b'{"kind":"segment_start","ts":1,"session_id":"NOPE","system_prompt":null,'
        b'"config":{},"history":[]}',
        b'{"kind":"config_changed","ts":1,"config":{"reasoning":[1]}}',
        b'{"kind":"config_changed","ts":1,"config":[]}',
        b'{"kind":"config_changed","ts":1,"config":{"stop_sequences":"END"}}',
        b'{"kind":"user_input","ts":1,"segments":{"kind":"text","content":"x"}}',
        b'{"kind":"user_input","ts":1,"segments":[{"kind":"text","content":1}]}',
        b'{"kind":"assistant_item","ts":1,"item":{"kind":"reasoning","text":"t","summary":"ab"}}',
        b'{"kind":"assistant_item","ts":1,"item":[]}',
        b'{"kind":"tool_result","ts":1,"item":{"kind":"tool_result","call_id":"c","summary":"s",'
        b'"is_error":1}}',
        b'{"kind":"llm_usage","ts":1,"history_len":1,"input_total_tokens":1,'
        b'"cache_read_tokens":1,"cache_write_tokens":true,"output_tokens":1}',
    ],
)
def test_malformed_lines_are_decode_errors(line: bytes) -> None:
    with pytest.raises(EntryDecodeError):
        decode_entry(line)


def test_replay_applies_every_kind() -> None:
    session = new_session_id()
    entries = every_entry_kind(session, new_segment_id())
    state = history.replay(entries)
    assert state.session_id == session
    assert state.system_prompt is None
    assert state.config == RequestConfig(max_tokens=10, top_k=3, reasoning=2048)
    assert state.turn_count == 1
    assert state.interrupted is True  # the last run errored while interrupted
    assert state.entries_count == len(entries)
    assert state.usage == [entries[15]]
    assert state.extensions == [("acme.audit", {"ok": True, "n": [1, 2, 3]})]
    assert len(state.user_inputs) == 1
    user_message = state.history[2]
    assert history.flatten_input(state.user_inputs[0]) == (
        "look at @src/main.py and #style/reviewhello"
    )
    assert getattr(user_message, "role", None) == "user"
    system_bodies = [
        m.content[0] for m in state.history if isinstance(m, MessageItem) and m.role == "system"
    ]
    assert system_bodies[0] == TextContent("note: x")
    assert system_bodies[-1] == TextContent("interrupted by user")
    assert isinstance(entries[0], SegmentStart)
    assert state.forked_from == entries[0].forked_from
