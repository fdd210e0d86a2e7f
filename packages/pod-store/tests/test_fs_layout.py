"""The fs backend on disk: modes, lock files, symlinks, odd entries, store URLs."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from yoi_pod_store.backends.fs import FsPodStore, open_fs_pod_store
from yoi_pod_store.backends.memory import open_memory_pod_store
from yoi_pod_store.contract import DeleteResult
from yoi_pod_store.errors import (
    CorruptPodRecord,
    StoreUrlError,
    UnsafeStoreLayout,
)
from yoi_pod_store.model import ActivePointer, PodRecord
from yoi_pod_store.plugins import UnknownBackendError, open_pod_store

SESSION = "0192f0a0-0000-7000-8000-00000000000a"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the store holding a file nothing may touch."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "metadata.json").write_text('{"pod_name": "alpha"}')
    (directory / "precious.txt").write_text("keep me")
    return directory


def snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    return {
        str(path.relative_to(directory)): (
            path.stat().st_mode,
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "",
        )
        for path in sorted(directory.rglob("*"))
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_files_are_0600_and_directories_0700(store: FsPodStore) -> None:
    old_umask = os.umask(0o002)
    try:
        store.set_active("alpha", ActivePointer(SESSION))
    finally:
        os.umask(old_umask)
    pods = store.data_dir / "pods"
    assert mode(store.data_dir) == 0o700
    assert mode(pods) == 0o700
    assert mode(pods / "alpha") == 0o700
    assert mode(pods / "alpha" / "metadata.json") == 0o600
    assert mode(pods / ".locks") == 0o700
    assert mode(pods / ".locks" / "alpha.lock") == 0o600
    assert [entry.name for entry in (pods / "alpha").iterdir()] == ["metadata.json"]


def test_lock_files_survive_delete_and_are_not_listed(store: FsPodStore) -> None:
    store.write(PodRecord("alpha"))
    store.delete("alpha")
    assert (store.data_dir / "pods" / ".locks" / "alpha.lock").exists()
    assert not (store.data_dir / "pods" / "alpha").exists()
    store.write(PodRecord("alpha"))
    assert [item.name for item in store.list_pods()] == ["alpha"]


def test_listing_skips_invalid_names_and_empty_directories(store: FsPodStore) -> None:
    store.write(PodRecord("alpha"))
    pods = store.data_dir / "pods"
    (pods / "bad name").mkdir()
    (pods / "bad name" / "metadata.json").write_text('{"pod_name": "bad name"}')
    (pods / "empty").mkdir()
    assert [item.name for item in store.list_pods()] == ["alpha"]


def test_a_delete_removes_the_pod_directory_at_once_with_all_it_holds(store: FsPodStore) -> None:
    store.write(PodRecord("alpha"))
    pods = store.data_dir / "pods"
    (pods / "alpha" / ".metadata.json.1.abcd.tmp").write_text("a killed writer's temp file")
    (pods / "alpha" / "notes").mkdir()
    (pods / "alpha" / "notes" / "left.txt").write_text("by hand")
    assert store.delete_if_stopped("alpha").deleted
    assert not (pods / "alpha").exists()
    assert list((pods / ".deleted").iterdir()) == []


def test_a_delete_killed_midway_leaves_a_tombstone_the_next_listing_removes(
    store: FsPodStore,
) -> None:
    store.write(PodRecord("alpha"))
    store.write(PodRecord("beta"))
    pods = store.data_dir / "pods"
    (pods / ".deleted").mkdir(mode=0o700)
    # What a delete killed after its one rename leaves: no Pod directory, only a tombstone.
    (pods / "alpha").rename(pods / ".deleted" / "alpha.4242.00c0ffee")
    assert store.read("alpha") is None
    assert [item.name for item in store.list_pods()] == ["beta"]
    assert list((pods / ".deleted").iterdir()) == []


def test_pod_dir_symlinked_outside_is_never_followed(store: FsPodStore, outside: Path) -> None:
    store.write(PodRecord("beta"))
    link = store.data_dir / "pods" / "alpha"
    link.symlink_to(outside)
    before = snapshot(outside)

    with pytest.raises(CorruptPodRecord, match="symlink"):
        store.read("alpha")
    listed = {item.name: item for item in store.list_pods()}
    assert listed["alpha"].error is not None and listed["beta"].ok
    with pytest.raises(CorruptPodRecord):
        store.write(PodRecord("alpha", workspace_root="/x"))
    with pytest.raises(CorruptPodRecord):
        store.update("alpha", lambda current: current)
    assert snapshot(outside) == before

    outcome = store.delete_if_stopped("alpha")
    assert outcome.result is DeleteResult.DELETED and outcome.corrupt is not None
    assert not link.is_symlink() and not link.exists()
    assert snapshot(outside) == before


def test_metadata_file_symlinked_outside_is_never_followed(
    store: FsPodStore, outside: Path
) -> None:
    store.write(PodRecord("alpha"))
    metadata = store.pod_path("alpha")
    metadata.unlink()
    metadata.symlink_to(outside / "metadata.json")
    before = snapshot(outside)
    with pytest.raises(CorruptPodRecord, match="symlink"):
        store.read("alpha")
    assert store.delete("alpha") is True
    assert snapshot(outside) == before
    assert not (store.data_dir / "pods" / "alpha").exists()


def test_pods_directory_symlinked_outside_is_refused(store: FsPodStore, outside: Path) -> None:
    store.data_dir.mkdir(mode=0o700)
    (store.data_dir / "pods").symlink_to(outside)
    before = snapshot(outside)
    with pytest.raises(UnsafeStoreLayout):
        store.read("alpha")
    with pytest.raises(UnsafeStoreLayout):
        store.list_pods()
    with pytest.raises(UnsafeStoreLayout):
        store.write(PodRecord("alpha"))
    with pytest.raises(UnsafeStoreLayout):
        store.delete("alpha")
    assert snapshot(outside) == before


def test_fifo_in_place_of_metadata_does_not_hang(store: FsPodStore) -> None:
    pod_dir = store.data_dir / "pods" / "alpha"
    pod_dir.mkdir(parents=True)
    os.mkfifo(pod_dir / "metadata.json")
    with pytest.raises(CorruptPodRecord, match="not a regular file"):
        store.read("alpha")
    assert store.delete("alpha") is True


def test_last_activity_of_corrupt_record_is_its_file_time(store: FsPodStore) -> None:
    path = store.data_dir / "pods" / "alpha" / "metadata.json"
    path.parent.mkdir(parents=True)
    path.write_text("garbage")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    activity = store.last_activity("alpha")
    assert activity is not None and activity.timestamp() == 1_000_000_000


def test_fs_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = open_pod_store("fs:")
    assert isinstance(default, FsPodStore)
    assert default.data_dir == tmp_path / "data"
    assert default.runtime_dir == tmp_path / "run"
    explicit = open_pod_store(f"fs://{tmp_path}/elsewhere?runtime_dir={tmp_path}/rt")
    assert isinstance(explicit, FsPodStore)
    assert explicit.data_dir == tmp_path / "elsewhere"
    assert explicit.runtime_dir == tmp_path / "rt"
    monkeypatch.setenv("YOI_POD_STORE", f"fs://{tmp_path}/from-env")
    from_env = open_pod_store()
    assert isinstance(from_env, FsPodStore) and from_env.data_dir == tmp_path / "from-env"
    for bad in (
        "fs:relative/path",
        "fs://host/path",
        "fs:///x?colour=red",
        "fs:///x?runtime_dir=rel",
    ):
        with pytest.raises(StoreUrlError):
            open_fs_pod_store(bad)
    with pytest.raises(UnknownBackendError):
        open_pod_store("nosuch:///x")


def test_tilde_in_the_environment_means_home_as_in_the_session_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `YOI_DATA_DIR='~/yoi-data'` once meant `$CWD/~/yoi-data` here but `$HOME/yoi-data` in the
    # session store, so the two stores of one install disagreed on where data lives.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YOI_DATA_DIR", "~/yoi-data")
    monkeypatch.setenv("YOI_RUNTIME_DIR", "~/yoi-run")
    store = open_pod_store("fs:")
    assert isinstance(store, FsPodStore)
    assert store.data_dir == tmp_path / "home" / "yoi-data"
    assert store.runtime_dir == tmp_path / "home" / "yoi-run"
    store.write(PodRecord("alpha"))
    assert (tmp_path / "home" / "yoi-data" / "pods" / "alpha" / "metadata.json").is_file()
    assert not (tmp_path / "~").exists()


def test_memory_urls_fresh_or_shared_by_name() -> None:
    first = open_pod_store("memory:")
    first.write(PodRecord("alpha"))
    assert open_pod_store("memory:").read("alpha") is None
    shared = open_pod_store("memory://layout-test")
    shared.write(PodRecord("alpha"))
    assert open_pod_store("memory://layout-test").read("alpha") is not None
    for bad in ("memory:x", "memory://name/path", "memory://n?x=1"):
        with pytest.raises(StoreUrlError):
            open_memory_pod_store(bad)


def test_opening_and_reading_an_empty_store_creates_nothing(tmp_path: Path) -> None:
    store = FsPodStore(tmp_path / "fresh", tmp_path / "fresh-run")
    assert store.read("alpha") is None
    assert store.list_pods() == []
    assert store.list_runtimes() == []
    assert store.probe("alpha").stopped
    assert not (tmp_path / "fresh").exists()
    assert not (tmp_path / "fresh-run").exists()
    assert store.delete("alpha") is False
