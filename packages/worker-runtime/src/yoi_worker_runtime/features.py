"""Optional features: whether one is installed, and the clear error a missing one gives.

``fs-store`` (persistence through yoi-pod-store and yoi-session-store) lives in
``yoi_worker_runtime.store_backed``; ``http-server`` (the REST adapter on starlette and uvicorn,
with prometheus-client for its metrics) in ``yoi_worker_runtime.http_server``. Each of those
calls :func:`require_feature` before its own imports, so importing it without the extra raises
FeatureNotInstalled (an ImportError) naming the extra to install. This module imports neither:
it sits below both, so they can use it.
"""

from __future__ import annotations

import importlib.util

from yoi_worker_runtime.errors import FeatureNotInstalled

#: The importable modules each extra provides.
FEATURE_MODULES: dict[str, tuple[str, ...]] = {
    "fs-store": ("yoi_pod_store", "yoi_session_store"),
    "http-server": ("starlette", "uvicorn", "prometheus_client"),
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
