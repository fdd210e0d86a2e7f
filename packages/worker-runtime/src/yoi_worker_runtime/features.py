"""Optional features and the clear error a missing one gives.

``fs-store`` (persistence through yoi-pod-store and yoi-session-store) lives in
``yoi_worker_runtime.fs_store``; ``http-server`` (the REST adapter on starlette and uvicorn) in
``yoi_worker_runtime.http_server``. Neither is imported by ``import yoi_worker_runtime``: the
functions here check for the feature's libraries first and import its module only when called.
Each optional module also calls :func:`require_feature` before its own imports, so importing it
without the extra raises FeatureNotInstalled (an ImportError) naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from yoi_worker_runtime.errors import FeatureNotInstalled

if TYPE_CHECKING:
    from yoi_worker_runtime.model import RuntimeLimits
    from yoi_worker_runtime.runtime import Runtime

#: The importable modules each extra provides.
FEATURE_MODULES: dict[str, tuple[str, ...]] = {
    "fs-store": ("yoi_pod_store", "yoi_session_store"),
    "http-server": ("starlette", "uvicorn"),
}


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def missing_modules(feature: str) -> list[str]:
    """The modules of ``feature`` that cannot be imported here (empty when it is installed)."""
    if feature not in FEATURE_MODULES:
        raise ValueError(f"unknown feature {feature!r}; known: {', '.join(FEATURE_MODULES)}")
    return [module for module in FEATURE_MODULES[feature] if _absent(module)]


def feature_installed(feature: str) -> bool:
    return not missing_modules(feature)


def require_feature(feature: str) -> None:
    """Raise FeatureNotInstalled (``... install yoi-worker-runtime[<feature>]``) when absent."""
    missing = missing_modules(feature)
    if missing:
        raise FeatureNotInstalled(feature, missing)


def open_persistent_runtime(
    store_url: str | None = None,
    *,
    runtime_id: str | None = None,
    display_name: str | None = None,
    limits: RuntimeLimits | None = None,
) -> Runtime:
    """Open a Runtime whose Workers persist as Pods and sessions (the ``fs-store`` feature).

    ``store_url`` names the yoi data store (``fs:``, ``fs:///abs/path``, ``memory://NAME``, ...;
    default: the stores' own default, ``fs:`` under the data dir). Forwards to
    ``yoi_worker_runtime.fs_store.open_runtime`` with the same arguments.
    """
    require_feature("fs-store")
    fs_store = importlib.import_module("yoi_worker_runtime.fs_store")
    runtime: Runtime = fs_store.open_runtime(
        store_url, runtime_id=runtime_id, display_name=display_name, limits=limits
    )
    return runtime


def create_http_app(runtime: Runtime, **options: Any) -> Any:
    """The REST adapter (an ASGI app) for ``runtime`` (the ``http-server`` feature).

    Forwards to ``yoi_worker_runtime.http_server.create_app(runtime, **options)``.
    """
    require_feature("http-server")
    http_server = importlib.import_module("yoi_worker_runtime.http_server")
    return http_server.create_app(runtime, **options)
