"""The ``yoi.worker_engine`` extension point: how engines are found.

A distribution adds an engine with one entry point in the ``yoi.worker_engine`` group naming a
module that implements :meth:`~.hooks.EngineHookSpec.yoi_worker_engines` with
:data:`~.hooks.hookimpl`. The built-in ``echo`` and ``none`` engines register through the same
hook. Plugin modules must be cheap to import: an engine's own dependencies load inside its
``create`` function. The registry is yoi-base's, shared by every extension point.
"""

from __future__ import annotations

from yoi_base.registry import ExtensionPoint, registry

from yoi_worker_runtime.engines.contract import EngineProvider
from yoi_worker_runtime.engines.hooks import ENTRY_POINT_GROUP, EngineHookSpec, hookimpl

ENGINES: ExtensionPoint[EngineProvider] = ExtensionPoint(
    group=ENTRY_POINT_GROUP,
    hookspecs=EngineHookSpec,
    hook="yoi_worker_engines",
    kind="engine",
    key=lambda provider: provider.name,
    distribution="yoi-worker-runtime",
    builtins={"builtin": "yoi_worker_runtime.engines.builtin"},
)


def engine_providers() -> dict[str, EngineProvider]:
    """Every installed engine by name (``YOI_DISABLE_PLUGIN_AUTOLOAD`` keeps only built-ins)."""
    return {name: registered.item for name, registered in registry(ENGINES).registered.items()}


__all__ = ["ENGINES", "ENTRY_POINT_GROUP", "EngineHookSpec", "engine_providers", "hookimpl"]
