from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real ~/.yoi."""
    monkeypatch.setenv("YOI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("YOI_STORE", raising=False)
    monkeypatch.delenv("YOI_POD_STORE", raising=False)
