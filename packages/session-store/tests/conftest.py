"""Isolate every test from the user's yoi data and runtime dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The suite's Hypothesis profiles (``ci`` under nox, ``dev`` otherwise).
pytest_plugins = ["yoi_base.hypothesis_profiles"]


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("YOI_SESSION_STORE", raising=False)
    monkeypatch.delenv("YOI_STORE", raising=False)
