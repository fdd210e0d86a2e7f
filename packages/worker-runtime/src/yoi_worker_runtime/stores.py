"""Opening a Runtime kept in the yoi stores, by URL, without importing the stores until asked.

This is the core's one door to the ``fs-store`` feature (``yoi_worker_runtime.store_backed``).
It sits below the REST adapter, which opens its Runtime through it.
"""

from __future__ import annotations

from typing import Unpack

from yoi_worker_runtime.features import require_feature
from yoi_worker_runtime.runtime import Runtime, RuntimeOptions


def open_persistent_runtime(
    store_url: str | None = None,
    *,
    runtime_id: str | None = None,
    display_name: str | None = None,
    advertise_url: str | None = None,
    wait_for_lease: bool = False,
    **options: Unpack[RuntimeOptions],
) -> Runtime:
    """Open a Runtime whose Workers persist as Pods and sessions (the ``fs-store`` feature).

    ``store_url`` names the yoi data store (``fs:``, ``fs:///abs/path``, ``memory://NAME``, ...;
    default: the stores' own default, ``fs:`` under the data dir). Forwards to
    ``yoi_worker_runtime.store_backed.open_runtime`` with the same arguments; ``options`` are
    those of :meth:`Runtime.open` (limits, configuration, engines, tools, workspace root,
    adoption). ``advertise_url`` and ``wait_for_lease`` matter when Runtimes share a store: see
    ``open_runtime``.
    """
    require_feature("fs-store")
    from yoi_worker_runtime.store_backed import open_runtime

    return open_runtime(
        store_url,
        runtime_id=runtime_id,
        display_name=display_name,
        advertise_url=advertise_url,
        wait_for_lease=wait_for_lease,
        **options,
    )
