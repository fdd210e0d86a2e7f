"""Opening stores by URL through the plugin registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from yoi_session_store import open_session_store
from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.backends.memory import MemorySessionStore
from yoi_session_store.errors import InvalidStoreUrlError
from yoi_session_store.history import create_session
from yoi_session_store.plugins import UnknownBackendError, registry


def test_named_memory_stores_are_shared_in_the_process() -> None:
    first = open_session_store("memory://shared-test")
    ref = create_session(first, system_prompt=None)
    second = open_session_store("memory://shared-test")
    assert second.exists(ref.session_id, ref.segment_id)
    assert not open_session_store("memory:").exists(ref.session_id, ref.segment_id)
    assert not open_session_store("memory://other").exists(ref.session_id, ref.segment_id)
    assert isinstance(second, MemorySessionStore)


def test_bad_memory_urls() -> None:
    for bad in ("memory://", "memory:name", "memory://a/b", "memory://a?x=1"):
        with pytest.raises(InvalidStoreUrlError):
            open_session_store(bad)


def test_default_url_is_fs_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_session_store()
    assert isinstance(store, FsSessionStore)
    assert store.sessions_dir == tmp_path / "data" / "sessions"
    monkeypatch.setenv("YOI_SESSION_STORE", "memory://from-env")
    assert isinstance(open_session_store(), MemorySessionStore)


def test_data_dir_from_the_environment_is_the_pod_stores_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One rule for both stores: `~` is the home directory and a relative value is taken from
    # the current directory once, so a later chdir cannot move the store.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YOI_DATA_DIR", "~/yoi-data")
    store = open_session_store("fs:")
    assert isinstance(store, FsSessionStore)
    assert store.sessions_dir == tmp_path / "home" / "yoi-data" / "sessions"
    monkeypatch.setenv("YOI_DATA_DIR", "relative-data")
    store = open_session_store("fs:")
    assert isinstance(store, FsSessionStore)
    assert store.sessions_dir == tmp_path / "relative-data" / "sessions"


def test_unknown_scheme_names_the_installed_backends() -> None:
    # A scheme no plugin provides (a PostgreSQL backend may well be installed alongside).
    with pytest.raises(
        UnknownBackendError, match=r"scheme 'nosuchstore' \(installed: .*fs, memory"
    ):
        open_session_store("nosuchstore://db/yoi")
    assert {"fs", "memory"} <= set(registry().registered)


def test_importing_the_package_is_cheap() -> None:
    code = (
        "import sys, yoi_session_store; "
        "heavy = {'attrs', 'cattrs', 'orjson', 'pluggy'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
