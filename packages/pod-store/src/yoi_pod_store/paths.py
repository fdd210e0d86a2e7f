"""Where yoi keeps data and runtime state, from the environment (empty values count as unset)."""

from __future__ import annotations

import os
from pathlib import Path

from yoi_pod_store.errors import StoreUrlError


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _home(what: str) -> Path:
    try:
        return Path.home()
    except RuntimeError as exc:
        raise StoreUrlError(f"failed to resolve Yoi {what} directory") from exc


def default_data_dir() -> Path:
    """``$YOI_DATA_DIR``, else ``$YOI_HOME``, else ``~/.yoi``."""
    if value := _env("YOI_DATA_DIR"):
        return Path(value).absolute()
    if value := _env("YOI_HOME"):
        return Path(value).absolute()
    return _home("data") / ".yoi"


def default_runtime_dir() -> Path:
    """``$YOI_RUNTIME_DIR``, else ``$YOI_HOME/run``, else ``$XDG_RUNTIME_DIR/yoi``, else
    ``~/.yoi/run``."""
    if value := _env("YOI_RUNTIME_DIR"):
        return Path(value).absolute()
    if value := _env("YOI_HOME"):
        return Path(value).absolute() / "run"
    if value := _env("XDG_RUNTIME_DIR"):
        return Path(value).absolute() / "yoi"
    return _home("runtime") / ".yoi" / "run"
