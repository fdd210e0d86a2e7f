"""Opening the stores, and their failures as ``yoi <command>: <message>`` with exit 1.

Store modules are imported inside the functions, so loading a command stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from yoi_pod_store.contract import PodStore
    from yoi_session_store.contract import SessionStore


@contextlib.contextmanager
def store_errors(what: str = "") -> Iterator[None]:
    """Turn a store failure into ``yoi <command>: <message>`` with exit 1, never a traceback."""
    from yoi_pod_store.errors import PodStoreError
    from yoi_session_store.errors import SessionStoreError

    try:
        yield
    except (PodStoreError, SessionStoreError, ValueError, RuntimeError, OSError) as error:
        raise click.ClickException(f"{what}{describe_error(error)}") from error


def describe_error(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error) or type(error).__name__


def open_pod_store(url: str | None) -> PodStore:
    """The Pod store ``url`` names, else ``$YOI_POD_STORE``, ``$YOI_STORE``, ``fs:``."""
    from yoi_pod_store.plugins import open_pod_store as _open

    with store_errors("pod store: "):
        return _open(url)


def open_session_store(url: str | None) -> SessionStore:
    """The session store ``url`` names, else ``$YOI_SESSION_STORE``, ``$YOI_STORE``, ``fs:``."""
    from yoi_session_store.plugins import open_session_store as _open

    with store_errors("session store: "):
        return _open(url)
