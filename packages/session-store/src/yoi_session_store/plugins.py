"""The ``yoi.session_store`` extension point: how session store backends are found.

A backend is provided by a pluggy plugin that implements :func:`yoi_session_store_backends`.
The built-in ``fs`` and ``memory`` backends register through this same hook; third-party
distributions add theirs with one entry point in the ``yoi.session_store`` group. Plugin modules
must stay cheap to import: a backend's own dependencies load inside its ``open`` function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, cast

import pluggy

if TYPE_CHECKING:
    from yoi_session_store.contract import SessionStore

ENTRY_POINT_GROUP = "yoi.session_store"
#: Set to a non-empty value to load only the built-in backends (tests, debugging).
DISABLE_AUTOLOAD_ENV = "YOI_DISABLE_PLUGIN_AUTOLOAD"
#: Store URL used when none is given; ``YOI_STORE`` sets both stores at once.
STORE_URL_ENVS = ("YOI_SESSION_STORE", "YOI_STORE")
DEFAULT_STORE_URL = "fs:"

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)

_OWN_DISTRIBUTION = "yoi-session-store"


@dataclass(frozen=True)
class SessionStoreBackend:
    """A backend: the URL scheme it serves and how to open a store for a URL."""

    scheme: str
    summary: str
    open: Callable[[str], SessionStore]


class SessionStoreHookSpec:
    @hookspec
    def yoi_session_store_backends(self) -> list[SessionStoreBackend]:  # type: ignore[empty-body]
        """Return the session store backends this plugin provides."""


class PluginConflictError(RuntimeError):
    """Two plugins provide the same backend scheme."""


class UnknownBackendError(ValueError):
    """No installed backend serves a store URL's scheme."""


@dataclass(frozen=True)
class RegisteredBackend:
    backend: SessionStoreBackend
    plugin: str
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    #: (kind, name) pairs, e.g. ("session_store_backend", "fs")
    registers: tuple[tuple[str, str], ...]


class BackendRegistry:
    """Backends by scheme, built from every registered plugin."""

    def __init__(self, *, autoload: bool) -> None:
        self._manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self._manager.add_hookspecs(SessionStoreHookSpec)
        self._origin: dict[str, tuple[str, str]] = {}
        from yoi_session_store import builtin_backends

        self._register(builtin_backends, "builtin", _OWN_DISTRIBUTION, _own_version())
        if autoload:
            for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = entry_point.dist
                self._register(
                    entry_point.load(),
                    entry_point.name,
                    dist.name if dist else "unknown",
                    dist.version if dist else "unknown",
                )
        self._backends = self._collect()

    def _register(self, plugin: object, name: str, distribution: str, version: str) -> None:
        plugin_name = f"{distribution}:{name}"
        if self._manager.is_registered(plugin) or self._manager.has_plugin(plugin_name):
            return
        self._manager.register(plugin, name=plugin_name)
        self._origin[plugin_name] = (distribution, version)

    def _collect(self) -> dict[str, RegisteredBackend]:
        found: dict[str, RegisteredBackend] = {}
        for impl in self._manager.hook.yoi_session_store_backends.get_hookimpls():
            distribution, version = self._origin[impl.plugin_name]
            backends = cast(list[SessionStoreBackend], impl.function())
            for backend in backends:
                if backend.scheme in found:
                    other = found[backend.scheme]
                    raise PluginConflictError(
                        f"session store backend {backend.scheme!r} is provided by both "
                        f"{other.distribution} and {distribution}; uninstall one of them"
                    )
                found[backend.scheme] = RegisteredBackend(
                    backend, impl.plugin_name, distribution, version
                )
        return found

    @property
    def backends(self) -> dict[str, RegisteredBackend]:
        return dict(self._backends)

    def plugins(self) -> list[PluginInfo]:
        infos = []
        for plugin_name, (distribution, version) in sorted(self._origin.items()):
            schemes = tuple(
                ("session_store_backend", scheme)
                for scheme, registered in sorted(self._backends.items())
                if registered.plugin == plugin_name
            )
            infos.append(PluginInfo(plugin_name, distribution, version, schemes))
        return infos

    def open(self, url: str) -> SessionStore:
        scheme, sep, _ = url.partition(":")
        if not sep or not scheme:
            raise UnknownBackendError(
                f"invalid session store URL {url!r}: "
                "expected SCHEME:..., e.g. fs:///path or memory:"
            )
        registered = self._backends.get(scheme)
        if registered is None:
            known = ", ".join(sorted(self._backends))
            raise UnknownBackendError(
                f"no session store backend for scheme {scheme!r} (installed: {known})"
            )
        return registered.backend.open(url)


def _own_version() -> str:
    try:
        return metadata.version(_OWN_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def autoload_enabled() -> bool:
    return not os.environ.get(DISABLE_AUTOLOAD_ENV)


@cache
def _registry(autoload: bool) -> BackendRegistry:
    return BackendRegistry(autoload=autoload)


def registry() -> BackendRegistry:
    """The process-wide backend registry (autoloading honours ``YOI_DISABLE_PLUGIN_AUTOLOAD``)."""
    return _registry(autoload_enabled())


def default_store_url() -> str:
    for name in STORE_URL_ENVS:
        value = os.environ.get(name)
        if value:
            return value
    return DEFAULT_STORE_URL


def open_session_store(url: str | None = None) -> SessionStore:
    """Open the session store a URL names.

    The default is ``$YOI_SESSION_STORE``, else ``$YOI_STORE``, else ``fs:``.
    """
    return registry().open(url or default_store_url())
