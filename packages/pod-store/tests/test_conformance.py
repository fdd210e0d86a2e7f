"""Both built-in backends pass the conformance kit third parties run."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from yoi_pod_store.backends.fs import FsPodStore, open_fs_pod_store
from yoi_pod_store.backends.memory import MemoryPodStore, open_memory_pod_store
from yoi_pod_store.contract import PodStore
from yoi_pod_store.testing import OPTIONAL, REQUIRED, PodStoreContract, UnreadableRecordsSpec

_names = itertools.count()


def _plant(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class TestFsBackend(PodStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> PodStore:
        return open_fs_pod_store(f"fs://{tmp_path}/data?runtime_dir={tmp_path}/run")

    @pytest.fixture
    def reopen(self, store: PodStore) -> Callable[[], PodStore]:
        assert isinstance(store, FsPodStore)
        return lambda: FsPodStore(store.data_dir, store.runtime_dir)

    @pytest.fixture
    def write_raw_pod(self, store: PodStore) -> Callable[[str, str], None]:
        assert isinstance(store, FsPodStore)
        return lambda name, text: _plant(store.data_dir / "pods" / name / "metadata.json", text)

    @pytest.fixture
    def write_raw_runtime(self, store: PodStore) -> Callable[[str, str], None]:
        assert isinstance(store, FsPodStore)
        return lambda rid, text: _plant(store.data_dir / "runtimes" / rid / "runtime.json", text)


class TestMemoryBackend(PodStoreContract):
    @pytest.fixture
    def store(self) -> PodStore:
        return open_memory_pod_store(f"memory://conformance-{next(_names)}")

    @pytest.fixture
    def reopen(self, store: PodStore) -> Callable[[], PodStore]:
        return lambda: open_memory_pod_store(store.url)

    @pytest.fixture
    def write_raw_pod(self, store: PodStore) -> Callable[[str, str], None]:
        assert isinstance(store, MemoryPodStore)
        return store.write_raw

    @pytest.fixture
    def write_raw_runtime(self, store: PodStore) -> Callable[[str, str], None]:
        assert isinstance(store, MemoryPodStore)
        return store.write_raw_runtime


def test_the_contract_is_every_declared_capability() -> None:
    assert PodStoreContract.__bases__ == REQUIRED + OPTIONAL


def test_a_backend_without_raw_writers_fails_the_kit_instead_of_skipping(tmp_path: Path) -> None:
    suite = tmp_path / "test_no_raw_writers.py"
    suite.write_text(
        "import pytest\n"
        "from yoi_pod_store.backends.memory import open_memory_pod_store\n"
        "from yoi_pod_store.testing import UnreadableRecordsSpec\n"
        "class TestNoRawWriters(UnreadableRecordsSpec):\n"
        "    @pytest.fixture\n"
        "    def store(self):\n"
        "        return open_memory_pod_store('memory://no-raw-writers')\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout
    tests = [name for name in dir(UnreadableRecordsSpec) if name.startswith("test_")]
    assert f"{len(tests)} errors" in run.stdout and "skipped" not in run.stdout, run.stdout
    assert "must override the `write_raw_pod` fixture" in run.stdout
    assert "must override the `write_raw_runtime` fixture" in run.stdout
