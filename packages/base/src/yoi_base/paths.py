"""Where yoi keeps data and runtime state: the one rule every store and the Runtime follow.

- Data dir: ``$YOI_DATA_DIR``, else ``$YOI_HOME``, else ``~/.yoi``.
- Runtime dir (locks, sockets): ``$YOI_RUNTIME_DIR``, else ``$YOI_HOME/run``, else
  ``$XDG_RUNTIME_DIR/yoi``, else ``~/.yoi/run``.
- Store URL: the store's own variable (``$YOI_POD_STORE``, ``$YOI_SESSION_STORE``), else
  ``$YOI_STORE``, else ``fs:`` (the data dir).
- Workspaces (each Worker's tool folder, ``<root>/<worker id>``): ``workspaces`` in the data
  dir, which for an ``fs:///path`` store is ``path`` itself.

An empty variable counts as unset. In a value, a leading ``~`` is the home directory and a
relative path is taken from the current directory, once, when the dir is resolved.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Names both stores at once; each store's own variable wins over it.
STORE_URL_ENV = "YOI_STORE"
DEFAULT_STORE_URL = "fs:"


class HomeDirectoryError(RuntimeError):
    """A yoi directory depends on a home directory that cannot be found."""


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _resolve(value: str, what: str) -> Path:
    try:
        return Path(value).expanduser().absolute()
    except RuntimeError as exc:  # `~` or `~user` with no such home
        raise HomeDirectoryError(f"failed to resolve the yoi {what} directory {value!r}") from exc


def _home(what: str) -> Path:
    try:
        return Path.home()
    except RuntimeError as exc:
        raise HomeDirectoryError(
            f"failed to resolve the yoi {what} directory: no home directory (set YOI_HOME)"
        ) from exc


def default_data_dir() -> Path:
    """``$YOI_DATA_DIR``, else ``$YOI_HOME``, else ``~/.yoi``, as an absolute path."""
    if value := _env("YOI_DATA_DIR") or _env("YOI_HOME"):
        return _resolve(value, "data")
    return _home("data") / ".yoi"


def default_runtime_dir() -> Path:
    """``$YOI_RUNTIME_DIR``, else ``$YOI_HOME/run``, else ``$XDG_RUNTIME_DIR/yoi``, else
    ``~/.yoi/run``, as an absolute path."""
    if value := _env("YOI_RUNTIME_DIR"):
        return _resolve(value, "runtime")
    if value := _env("YOI_HOME"):
        return _resolve(value, "runtime") / "run"
    if value := _env("XDG_RUNTIME_DIR"):
        return _resolve(value, "runtime") / "yoi"
    return _home("runtime") / ".yoi" / "run"


def default_store_url(own_env: str) -> str:
    """``$own_env``, else ``$YOI_STORE``, else ``fs:``."""
    return _env(own_env) or _env(STORE_URL_ENV) or DEFAULT_STORE_URL


#: The folder of the data dir that holds each Worker's tool workspace.
WORKSPACES_DIR = "workspaces"


def default_workspace_root(store_url: str | None = None) -> Path:
    """Where Workers' tool workspaces live for the store ``store_url`` (None: the Pod store's
    default): ``workspaces`` in its data dir for an ``fs:///path`` store, else in the data dir
    of this host."""
    url = store_url or default_store_url("YOI_POD_STORE")
    scheme, _, rest = url.partition(":")
    if scheme == "fs" and rest.startswith("///"):
        return Path(rest[2:]) / WORKSPACES_DIR
    return default_data_dir() / WORKSPACES_DIR
