"""The one data-dir / runtime-dir / store-URL rule every yoi package follows."""

from __future__ import annotations

from pathlib import Path

import pytest
from yoi_base.paths import (
    HomeDirectoryError,
    default_data_dir,
    default_runtime_dir,
    default_store_url,
)

VARIABLES = ("YOI_DATA_DIR", "YOI_HOME", "YOI_RUNTIME_DIR", "XDG_RUNTIME_DIR", "YOI_STORE")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: HOME is a temporary dir, the cwd another, no yoi variable set."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def test_defaults_are_under_the_home_directory(home: Path) -> None:
    assert default_data_dir() == home / ".yoi"
    assert default_runtime_dir() == home / ".yoi" / "run"


def test_each_variable_in_its_order(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert default_runtime_dir() == Path("/run/user/1000/yoi")
    monkeypatch.setenv("YOI_HOME", "/srv/yoi")
    assert default_data_dir() == Path("/srv/yoi")
    assert default_runtime_dir() == Path("/srv/yoi/run")
    monkeypatch.setenv("YOI_DATA_DIR", "/data/yoi")
    monkeypatch.setenv("YOI_RUNTIME_DIR", "/run/yoi")
    assert default_data_dir() == Path("/data/yoi")
    assert default_runtime_dir() == Path("/run/yoi")


def test_empty_variables_count_as_unset(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.setenv(name, "")
    assert default_data_dir() == home / ".yoi"
    assert default_runtime_dir() == home / ".yoi" / "run"
    assert default_store_url("YOI_POD_STORE") == "fs:"


def test_tilde_is_home_and_relative_is_from_the_current_dir(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, resolve in (
        ("YOI_DATA_DIR", default_data_dir),
        ("YOI_RUNTIME_DIR", default_runtime_dir),
    ):
        monkeypatch.setenv(name, "~/yoi-x")
        assert resolve() == home / "yoi-x"
        monkeypatch.setenv(name, "yoi-x")
        assert resolve() == tmp_path / "yoi-x"
    monkeypatch.setenv("YOI_HOME", "~/h")
    monkeypatch.delenv("YOI_RUNTIME_DIR")
    assert default_runtime_dir() == home / "h" / "run"


def test_an_unknown_users_home_is_a_clear_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YOI_DATA_DIR", "~no-such-user-of-yoi/data")
    with pytest.raises(HomeDirectoryError, match="yoi data directory '~no-such-user-of-yoi/data'"):
        default_data_dir()


def test_store_url_own_variable_then_both_then_fs(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_store_url("YOI_POD_STORE") == "fs:"
    monkeypatch.setenv("YOI_STORE", "memory:")
    assert default_store_url("YOI_POD_STORE") == "memory:"
    monkeypatch.setenv("YOI_POD_STORE", "fs:///srv/pods")
    assert default_store_url("YOI_POD_STORE") == "fs:///srv/pods"
    assert default_store_url("YOI_SESSION_STORE") == "memory:"
