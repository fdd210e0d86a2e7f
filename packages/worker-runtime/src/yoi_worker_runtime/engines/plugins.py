"""The ``yoi.worker_engine`` extension point: how engines are found.

A distribution adds an engine with one entry point in the ``yoi.worker_engine`` group naming a
module that implements :func:`EngineHookSpec.yoi_worker_engines` with :data:`hookimpl`. The
built-in ``echo`` and ``none`` engines register through the same hook. Plugin modules must be
cheap to import: an engine's own dependencies load inside its ``create`` function.
"""

from __future__ import annotations

import os
from functools import cache
from typing import cast

import pluggy

from yoi_worker_runtime.engines import builtin
from yoi_worker_runtime.engines.contract import EngineProvider
from yoi_worker_runtime.engines.hooks import ENTRY_POINT_GROUP, EngineHookSpec, hookimpl

DISABLE_AUTOLOAD_ENV = "YOI_DISABLE_PLUGIN_AUTOLOAD"

__all__ = ["ENTRY_POINT_GROUP", "EngineHookSpec", "engine_providers", "hookimpl"]


class EngineConflictError(RuntimeError):
    """Two plugins provide an engine of the same name."""


@cache
def _providers(autoload: bool) -> dict[str, tuple[EngineProvider, str]]:
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(EngineHookSpec)
    manager.register(builtin, name="yoi-worker-runtime:builtin")
    if autoload:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    origin = {plugin_name: "yoi-worker-runtime" for plugin_name in ("yoi-worker-runtime:builtin",)}
    for plugin, dist in manager.list_plugin_distinfo():
        origin[manager.get_name(plugin) or ""] = dist.project_name
    found: dict[str, tuple[EngineProvider, str]] = {}
    for impl in manager.hook.yoi_worker_engines.get_hookimpls():
        distribution = origin.get(impl.plugin_name, "unknown")
        providers = cast(list[EngineProvider], impl.function())
        for provider in providers:
            if provider.name in found:
                raise EngineConflictError(
                    f"engine {provider.name!r} is provided by both {found[provider.name][1]} "
                    f"and {distribution}; uninstall one of them"
                )
            found[provider.name] = (provider, distribution)
    return found


def engine_providers() -> dict[str, EngineProvider]:
    """Every installed engine by name (``YOI_DISABLE_PLUGIN_AUTOLOAD`` keeps only built-ins)."""
    autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    return {name: provider for name, (provider, _) in _providers(autoload).items()}


def engine_distributions() -> dict[str, str]:
    """Which distribution provides each engine."""
    autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    return {name: dist for name, (_, dist) in _providers(autoload).items()}
