"""Both built-in backends pass the conformance kit, exactly as a third-party backend would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from yoi_session_store.contract import SessionStore
from yoi_session_store.plugins import open_session_store
from yoi_session_store.testing import SessionStoreConformance


class TestFsConformance(SessionStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SessionStore]:
        store = open_session_store(f"fs://{tmp_path}/data")
        yield store
        store.close()


class TestFsNoFsyncConformance(SessionStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SessionStore]:
        store = open_session_store(f"fs://{tmp_path}/data?fsync=never")
        yield store
        store.close()


class TestMemoryConformance(SessionStoreConformance):
    @pytest.fixture
    def store(self) -> Iterator[SessionStore]:
        store = open_session_store("memory:")
        yield store
        store.close()
