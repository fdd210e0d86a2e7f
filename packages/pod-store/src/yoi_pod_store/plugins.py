"""The ``yoi.pod_store`` extension point: how Pod store backends are found.

A backend is provided by a pluggy plugin that implements :func:`yoi_pod_store_backends`.
The built-in ``fs`` and ``memory`` backends register through this same hook; third-party
distributions add theirs with one entry point in the ``yoi.pod_store`` group. Plugin modules
must stay cheap to import: a backend's own dependencies load inside its ``open`` function.
The registry itself is yoi-base's, shared by every extension point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pluggy
from yoi_base.paths import default_store_url
from yoi_base.registry import ExtensionPoint, PluginConflictError, Registry, UnknownPluginError
from yoi_base.registry import registry as _registry

if TYPE_CHECKING:
    from yoi_pod_store.contract import PodStore

ENTRY_POINT_GROUP = "yoi.pod_store"
#: This store's own URL variable; ``YOI_STORE`` sets both stores at once.
STORE_URL_ENV = "YOI_POD_STORE"

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)

#: The registry's errors under the names this package has always exported.
UnknownBackendError = UnknownPluginError
__all__ = ["PluginConflictError", "UnknownBackendError"]


@dataclass(frozen=True)
class PodStoreBackend:
    """A backend: the URL scheme it serves and how to open a store for a URL."""

    scheme: str
    summary: str
    open: Callable[[str], PodStore]


class PodStoreHookSpec:
    @hookspec
    def yoi_pod_store_backends(self) -> list[PodStoreBackend]:  # type: ignore[empty-body]
        """Return the Pod store backends this plugin provides."""


BACKENDS: ExtensionPoint[PodStoreBackend] = ExtensionPoint(
    group=ENTRY_POINT_GROUP,
    hookspecs=PodStoreHookSpec,
    hook="yoi_pod_store_backends",
    kind="pod_store_backend",
    key=lambda backend: backend.scheme,
    distribution="yoi-pod-store",
    builtins={"builtin": "yoi_pod_store.builtin_backends"},
    key_name="scheme",
)


def registry() -> Registry[PodStoreBackend]:
    """The process-wide backend registry (autoloading honours ``YOI_DISABLE_PLUGIN_AUTOLOAD``)."""
    return _registry(BACKENDS)


def open_pod_store(url: str | None = None) -> PodStore:
    """Open the Pod store a URL names.

    The default is ``$YOI_POD_STORE``, else ``$YOI_STORE``, else ``fs:``.
    """
    url = url or default_store_url(STORE_URL_ENV)
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme:
        raise UnknownBackendError(
            f"invalid pod store URL {url!r}: expected SCHEME:..., e.g. fs:///path or memory:"
        )
    return registry().get(scheme).open(url)
