"""Isolate every test from the user's yoi data and runtime dirs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("YOI_SESSION_STORE", raising=False)
    monkeypatch.delenv("YOI_STORE", raising=False)
