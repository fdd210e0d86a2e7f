from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from yoi_pod_store.backends.fs import FsPodStore


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real ~/.yoi."""
    monkeypatch.setenv("YOI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("YOI_STORE", raising=False)
    monkeypatch.delenv("YOI_POD_STORE", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> FsPodStore:
    """An fs store on the test's own data and runtime dirs (tests needing another override it)."""
    return FsPodStore(tmp_path / "data", tmp_path / "run")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Subprocesses a test starts; killed and reaped when it ends."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout:
            process.stdout.close()
