"""Hook implementations; this module stays cheap to import, as plugin modules must."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yoi_cli.plugins import CommandSpec
from yoi_cli.plugins import hookimpl as cli_hookimpl
from yoi_session_store.plugins import SessionStoreBackend
from yoi_session_store.plugins import hookimpl as session_store_hookimpl

if TYPE_CHECKING:
    from yoi_session_store.contract import SessionStore


def _open_example(url: str) -> SessionStore:
    # The example backend is the in-memory store under a name derived from the URL.
    from yoi_session_store.plugins import open_session_store

    return open_session_store("memory://example-" + url.partition(":")[2].strip("/"))


@session_store_hookimpl
def yoi_session_store_backends() -> list[SessionStoreBackend]:
    return [SessionStoreBackend("example", "In-memory sessions (example plugin)", _open_example)]


@cli_hookimpl
def yoi_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "example-hello",
            "Greet and report a session store (example plugin).",
            "yoi_example_plugin.command:hello",
        )
    ]
