"""The built-in engines, registered like any plugin: ``echo`` and ``none``."""

from __future__ import annotations

from yoi_worker_runtime.engines.contract import Engine, EngineProvider, EngineSettings
from yoi_worker_runtime.engines.hooks import hookimpl


def _create_echo(settings: EngineSettings) -> Engine:
    from yoi_worker_runtime.engines.echo import create_echo

    return create_echo(settings)


@hookimpl
def yoi_worker_engines() -> list[EngineProvider]:
    return [
        EngineProvider(
            name="echo",
            summary="replies with the input, streamed in chunks (demos and tests)",
            create=_create_echo,
        ),
        EngineProvider(name="none", summary="records input only; runs no turns", create=None),
    ]
