"""fs-specific guarantees: torn tails, corruption reports, layout, symlinks, URLs, caching."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import orjson
import pytest
from yoi_session_store.backends.fs import FsSessionStore, FsyncPolicy, open_fs_session_store
from yoi_session_store.errors import (
    CorruptSegmentError,
    InvalidStoreUrlError,
    SegmentNotFoundError,
    TornTailWarning,
    UnsafePathError,
    UnsupportedSchemaVersionError,
)
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id
from yoi_session_store.model import Entry, Extension, encode_entry
from yoi_session_store.testing.samples import segment_start


def note(n: int) -> Extension:
    return Extension(n, "test", {"n": n})


@pytest.fixture
def store(tmp_path: Path) -> FsSessionStore:
    return FsSessionStore(tmp_path / "data")


def make(store: FsSessionStore, notes: int = 2) -> tuple[SessionId, SegmentId, Path]:
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session)])
    for n in range(notes):
        store.append(session, segment, note(n))
    return session, segment, store.sessions_dir / session / f"{segment}.jsonl"


def test_on_disk_layout_and_format(store: FsSessionStore) -> None:
    session, segment, path = make(store, 1)
    store.append_trace(session, segment, {"n": 1})
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert lines[0].startswith(b'{"kind":"segment_start","ts":')
    assert orjson.loads(lines[0])["schema_version"] == 1
    assert lines[1] == b'{"kind":"extension","ts":0,"domain":"test","payload":{"n":0}}'
    assert (path.parent / f"{segment}.trace.jsonl").read_bytes() == b'{"n":1}\n'
    assert (store.sessions_dir / ".by-segment" / segment).readlink() == Path(f"../{session}")


def test_every_way_of_writing_an_entry_stores_the_same_bytes(store: FsSessionStore) -> None:
    # append, append_if_count and create_segment share one encoder: a line never depends on
    # the call that wrote it.
    session = new_session_id()
    start = segment_start(session)
    segments = [new_segment_id() for _ in range(3)]
    store.create_segment(session, segments[0], [start])
    store.create_segment(session, segments[1], [start])
    for n in range(3):
        store.append(session, segments[0], note(n))
        assert store.append_if_count(session, segments[1], note(n), n + 1)
    entries: list[Entry] = [start, note(0), note(1), note(2)]
    store.create_segment(session, segments[2], entries)
    files = {(store.sessions_dir / session / f"{s}.jsonl").read_bytes() for s in segments}
    expected = b"".join(encode_entry(entry) + b"\n" for entry in entries)
    assert files == {expected}


def test_torn_tail_is_skipped_with_a_warning_then_cut_off(store: FsSessionStore) -> None:
    session, segment, path = make(store)
    with path.open("ab") as f:
        f.write(b'{"kind":"extension","ts":9,"dom')
    with pytest.warns(TornTailWarning, match="incomplete final line"):
        assert len(store.read_all(session, segment)) == 3
    assert store.read_entry_count(session, segment) == 3  # the torn line does not count
    with pytest.warns(TornTailWarning, match="cut off"):
        assert store.append(session, segment, note(7)) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.read_all(session, segment)[-1] == note(7)
    assert path.read_bytes().endswith(encode_entry(note(7)) + b"\n")


def test_torn_tail_written_after_the_handle_was_cached(store: FsSessionStore) -> None:
    session, segment, path = make(store)  # the store now holds the segment open
    other = FsSessionStore(store.data_dir)
    other.append(session, segment, note(5))
    with path.open("ab") as f:
        f.write(b'{"kind":"ext')
    with pytest.warns(TornTailWarning):
        assert store.append(session, segment, note(6)) == 5
    assert store.read_all(session, segment)[-2:] == [note(5), note(6)]


def test_corruption_reports_path_line_and_offset(store: FsSessionStore) -> None:
    session, segment, path = make(store)
    lines = path.read_bytes().split(b"\n")
    lines[1] = b'{"kind":"extension","ts":"x"}'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(CorruptSegmentError) as info:
        store.read_all(session, segment)
    assert info.value.path == str(path)
    assert info.value.line == 2
    assert info.value.offset == len(lines[0]) + 1
    assert f"{path}: line 2 (byte offset {len(lines[0]) + 1})" in str(info.value)
    # Reading before the bad line still works.
    assert len(store.read(session, segment, 0, 1)) == 1


def test_invalid_utf8_is_corruption(store: FsSessionStore) -> None:
    session, segment, path = make(store)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"test"', b'"t\xffst"')
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(CorruptSegmentError) as info:
        store.read_all(session, segment)
    assert info.value.line == 3
    assert info.value.offset == len(lines[0]) + len(lines[1]) + 2
    assert "UTF-8" in info.value.reason


def test_blank_line_in_the_middle_is_corruption(store: FsSessionStore) -> None:
    session, segment, path = make(store)
    data = path.read_bytes()
    first_end = data.index(b"\n") + 1
    path.write_bytes(data[:first_end] + b"\n" + data[first_end:])
    with pytest.raises(CorruptSegmentError) as info:
        store.read_all(session, segment)
    assert (info.value.line, info.value.offset) == (2, first_end)


def test_headless_segment_is_corruption(store: FsSessionStore) -> None:
    session, segment, path = make(store)
    path.write_bytes(encode_entry(note(1)) + b"\n")
    with pytest.raises(CorruptSegmentError, match=r"line 1.*segment_start"):
        store.read_all(session, segment)


def test_newer_schema_version_is_refused_and_legacy_logs_read(store: FsSessionStore) -> None:
    session, segment, path = make(store, 0)
    start = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**start, "schema_version": 99}) + b"\n")
    with pytest.raises(UnsupportedSchemaVersionError, match="schema version 99"):
        store.read_all(session, segment)
    del start["schema_version"]
    path.write_bytes(orjson.dumps(start) + b"\n")
    [entry] = store.read_all(session, segment)
    assert getattr(entry, "schema_version", None) == 0


def test_truncate_keeps_unknown_fields_byte_for_byte(store: FsSessionStore) -> None:
    session, segment, path = make(store, 0)
    odd = b'{"kind":"invoke","ts":5,"trigger":"wakeup","later":{"x":[1,2]}}\n'
    with path.open("ab") as f:
        f.write(odd + odd.replace(b"5", b"6"))
    store.truncate(session, segment, 2)
    assert path.read_bytes().endswith(b"\n" + odd)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_only_canonical_uuid_directories_are_sessions(store: FsSessionStore) -> None:
    session, _, _ = make(store)
    root = store.sessions_dir
    (root / session.upper()).mkdir()
    (root / "notes").mkdir()
    (root / session.replace("-", "")).mkdir()
    outside = root.parent / "elsewhere"
    outside.mkdir()
    other = new_session_id()
    (root / other).symlink_to(outside)
    assert [info.session_id for info in store.list_sessions()] == [session]
    assert store.list_segments(other) == []
    assert store.session_modified_at(other) is None


def run_unprivileged(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``args`` where directory permissions hold. As root: without the capabilities that
    bypass them (the interpreter lives where another uid may not reach it)."""
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        caps = "-dac_override,-dac_read_search"
        args = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *args]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)


def test_an_unreadable_session_is_listed_with_its_error_and_the_others_still_are(
    store: FsSessionStore,
) -> None:
    readable, _, _ = make(store)
    locked, _, _ = make(store)
    (store.sessions_dir / locked).chmod(0o000)
    code = (
        "import json, sys\n"
        "from yoi_session_store.backends.fs import FsSessionStore\n"
        "infos = FsSessionStore(sys.argv[1]).list_sessions()\n"
        "print(json.dumps({i.session_id: [i.ok, i.error, i.segment_count] for i in infos}))\n"
    )
    try:
        listed = json.loads(
            run_unprivileged([sys.executable, "-c", code, str(store.data_dir)]).stdout
        )
    finally:
        (store.sessions_dir / locked).chmod(0o700)
    assert listed == {
        readable: [True, None, 1],
        locked: [False, "cannot be read (Permission denied)", 0],
    }


def test_delete_follows_no_symlink(store: FsSessionStore, tmp_path: Path) -> None:
    session, _, path = make(store)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir()
    (victim_dir / "inside.txt").write_text("keep me too")
    (path.parent / "link-to-file").symlink_to(victim)
    (path.parent / "link-to-dir").symlink_to(victim_dir)
    (path.parent / f"{new_segment_id()}.jsonl").symlink_to(victim)
    assert store.delete_session(session)
    assert not path.parent.exists()
    assert victim.read_text() == "keep me"
    assert (victim_dir / "inside.txt").read_text() == "keep me too"
    linked = new_session_id()
    (store.sessions_dir / linked).symlink_to(victim_dir)
    with pytest.raises(UnsafePathError):
        store.delete_session(linked)
    assert (victim_dir / "inside.txt").exists()


def test_symlinked_session_or_segment_is_refused(store: FsSessionStore, tmp_path: Path) -> None:
    session, segment, path = make(store)
    outside = tmp_path / "outside"
    outside.mkdir()
    linked = new_session_id()
    (store.sessions_dir / linked).symlink_to(outside)
    assert not store.exists(linked, segment)
    with pytest.raises(UnsafePathError):
        store.append(linked, segment, note(1))
    other = new_segment_id()
    (path.parent / f"{other}.jsonl").symlink_to(path)
    with pytest.raises(UnsafePathError):
        store.read_all(session, other)


def test_writer_of_another_store_sees_truncate_and_delete(store: FsSessionStore) -> None:
    session, segment, _ = make(store, 3)
    other = FsSessionStore(store.data_dir)
    other.truncate(session, segment, 2)  # replaces the file `store` holds open
    assert store.append(session, segment, note(9)) == 3
    assert store.read_all(session, segment)[-1] == note(9)
    assert other.delete_session(session)
    with pytest.raises(SegmentNotFoundError):
        store.append(session, segment, note(10))
    assert not (store.sessions_dir / session).exists()


def test_many_segments_with_a_small_handle_cache(tmp_path: Path) -> None:
    store = FsSessionStore(tmp_path / "data", fsync="never", max_open_segments=2)
    made = [make(store, 0) for _ in range(5)]
    for round_ in range(3):
        for session, segment, _ in made:
            store.append(session, segment, note(round_))
    assert [store.read_entry_count(s, g) for s, g, _ in made] == [4] * 5
    store.close()


def test_lookup_uses_the_index_and_rebuild_restores_it(store: FsSessionStore) -> None:
    session, segment, _ = make(store)
    index = store.sessions_dir / ".by-segment"
    for link in index.iterdir():
        link.unlink()
    assert store.lookup_session_of(segment) is None
    (index / new_segment_id()).symlink_to("../" + session)  # stale record
    assert store.rebuild_index() == 1
    assert store.lookup_session_of(segment) == session
    assert [p.name for p in index.iterdir()] == [segment]


def test_modified_at_tolerates_files_vanishing(store: FsSessionStore) -> None:
    session, _, path = make(store)
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            scratch = path.parent / f"scratch-{n % 50}"
            scratch.write_bytes(b"x")
            scratch.unlink()
            n += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(300):
            assert store.session_modified_at(session) is not None
            assert store.list_sessions()[0].session_id == session
    finally:
        stop.set()
        thread.join()


def test_fs_urls(tmp_path: Path) -> None:
    assert open_fs_session_store(f"fs://{tmp_path}").fsync is FsyncPolicy.ALWAYS
    store = open_fs_session_store(f"fs://{tmp_path}/d?fsync=segment")
    assert (store.data_dir, store.fsync) == (tmp_path / "d", FsyncPolicy.SEGMENT)
    assert open_fs_session_store("fs:").data_dir == tmp_path / "data"
    for bad in ("fs:relative", "fs://host/x", f"fs://{tmp_path}?fsync=sometimes", "fs:/x?y=1"):
        with pytest.raises(InvalidStoreUrlError):
            open_fs_session_store(bad)
    with pytest.raises(ValueError, match="fsync policy"):
        FsSessionStore(tmp_path, fsync="sometimes")


def test_failed_operations_change_nothing(store: FsSessionStore) -> None:
    session, segment, path = make(store)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        store.append(session, segment, "not an entry")  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_large_segment_reports_the_bad_line_and_keeps_unknown_fields(
    store: FsSessionStore,
) -> None:
    # Over a thousand lines takes the batch decoder (collector paused); errors and unknown
    # fields must come out exactly as they do line by line.
    session, segment, path = make(store, 1500)
    lines = path.read_bytes().split(b"\n")
    lines[700] = b'{"kind":"extension","ts":7,"domain":"d","payload":null,"x_new":[1]}'
    lines[800] = b'{"kind":"future_kind","ts":8,"what":"kept"}'
    path.write_bytes(b"\n".join(lines))
    freeze_count = gc.get_freeze_count()
    entries = store.read_all(session, segment)
    assert gc.isenabled() and gc.get_freeze_count() == freeze_count
    assert len(entries) == 1501
    assert encode_entry(entries[700]) == lines[700]
    assert encode_entry(entries[800]) == lines[800]
    lines[1200] = b'{"kind":"extension","ts":9,"domain":["not","text"],"payload":null}'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(CorruptSegmentError) as info:
        store.read_all(session, segment)
    assert gc.isenabled()
    assert info.value.line == 1201
    assert info.value.offset == sum(len(line) + 1 for line in lines[:1200])
    assert "domain" in info.value.reason
