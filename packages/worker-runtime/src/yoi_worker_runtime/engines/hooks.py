"""The ``yoi.worker_engine`` hook: what an engine plugin implements, and its marker.

A plugin module implements :meth:`EngineHookSpec.yoi_worker_engines` decorated with
:data:`hookimpl` and returns the :class:`~.contract.EngineProvider` objects it offers.
"""

from __future__ import annotations

import pluggy

from yoi_worker_runtime.engines.contract import EngineProvider

ENTRY_POINT_GROUP = "yoi.worker_engine"

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)


class EngineHookSpec:
    @hookspec
    def yoi_worker_engines(self) -> list[EngineProvider]:  # type: ignore[empty-body]
        """Return the engines this plugin provides."""
