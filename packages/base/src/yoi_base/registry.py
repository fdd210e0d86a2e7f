"""One plugin registry for every yoi extension point.

An extension point is one :class:`ExtensionPoint` declaration: its entry-point group (also
pluggy's project name), the hookspec, the hook that returns what plugins provide, the kind
label ``yoi plugins`` shows, how an item is named, and the modules of its built-in plugins.
:func:`registry` builds the point's :class:`Registry` once per process: the built-in plugins
first, then (unless ``YOI_DISABLE_PLUGIN_AUTOLOAD`` is set) every plugin of the group, loaded by
pluggy, which also knows the distribution each came from.

A package shows its extension points to ``yoi plugins`` with an entry point in the
``yoi.extension_points`` group that names the declaration.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import metadata
from types import ModuleType
from typing import Any, Generic, TypeVar, cast

import pluggy

Item = TypeVar("Item")

#: Set to a non-empty value to load only the built-in plugins (tests, debugging).
DISABLE_AUTOLOAD_ENV = "YOI_DISABLE_PLUGIN_AUTOLOAD"
#: The entry-point group in which packages declare their extension points.
EXTENSION_POINTS_GROUP = "yoi.extension_points"


class PluginError(Exception):
    """Something is wrong with the installed plugins."""


class PluginConflictError(PluginError, RuntimeError):
    """Two plugins register the same name at one extension point."""


class UnknownPluginError(PluginError, ValueError):
    """No installed plugin registers the name asked for."""


@dataclass(frozen=True, eq=False)
class ExtensionPoint(Generic[Item]):
    """Where plugins extend yoi. The hook takes no argument and returns a list of items."""

    #: The plugins' entry-point group, also pluggy's project name: ``yoi.pod_store``.
    group: str
    #: The class or module whose ``@hookspec`` declares :attr:`hook`.
    hookspecs: type | ModuleType
    #: The hook's name: ``yoi_pod_store_backends``.
    hook: str
    #: What an item is, as ``yoi plugins`` labels it: ``pod_store_backend``.
    kind: str
    #: An item's name, unique at this extension point: a URL scheme, a command name.
    key: Callable[[Item], str]
    #: The distribution that declares this point and ships its built-in plugins.
    distribution: str
    #: The built-in plugins: plugin name -> module, registered like any other plugin.
    builtins: Mapping[str, str]
    #: What :attr:`key` is called in error messages: ``scheme``.
    key_name: str = "name"

    @property
    def noun(self) -> str:
        return self.kind.replace("_", " ")


@dataclass(frozen=True)
class Registered(Generic[Item]):
    """An item and the plugin that registered it."""

    item: Item
    #: ``distribution:plugin name``, as :attr:`PluginInfo.name`.
    plugin: str
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginInfo:
    """An installed plugin and what it registers."""

    #: ``distribution:plugin name``: ``yoi-pod-store:builtin``, ``yoi-store-postgres:postgresql``.
    name: str
    distribution: str
    version: str
    #: ``(kind, name)`` pairs: ``("pod_store_backend", "fs")``.
    registers: tuple[tuple[str, str], ...] = ()


class Registry(Generic[Item]):
    """The items of one extension point by name (sorted), and the plugins that provide them."""

    def __init__(self, point: ExtensionPoint[Item], *, autoload: bool) -> None:
        self.point = point
        manager = pluggy.PluginManager(point.group)
        manager.add_hookspecs(point.hookspecs)
        # pluggy's plugin name -> the plugin as listed, without what it registers yet
        self._plugins: dict[str, PluginInfo] = {}
        version = _version(point.distribution)
        for name, module in point.builtins.items():
            plugin_name = f"{point.distribution}:{name}"
            manager.register(importlib.import_module(module), name=plugin_name)
            self._plugins[plugin_name] = PluginInfo(plugin_name, point.distribution, version)
        if autoload:
            manager.load_setuptools_entrypoints(point.group)
            for plugin, dist in manager.list_plugin_distinfo():
                name = cast(str, manager.get_name(plugin))
                distribution = dist.project_name
                self._plugins[name] = PluginInfo(
                    f"{distribution}:{name}", distribution, dist.version
                )
        self.registered = self._collect(manager)

    def _collect(self, manager: pluggy.PluginManager) -> dict[str, Registered[Item]]:
        found: dict[str, Registered[Item]] = {}
        for impl in getattr(manager.hook, self.point.hook).get_hookimpls():
            plugin = self._plugins[impl.plugin_name]
            for item in cast(list[Item], impl.function()):
                key = self.point.key(item)
                if key in found:
                    raise PluginConflictError(
                        f"{self.point.noun} {key!r} is provided by both "
                        f"{found[key].distribution} and {plugin.distribution}; "
                        "uninstall one of them"
                    )
                found[key] = Registered(item, plugin.name, plugin.distribution, plugin.version)
        return dict(sorted(found.items()))

    def get(self, key: str) -> Item:
        """The item registered as ``key``; :class:`UnknownPluginError` names the installed ones."""
        registered = self.registered.get(key)
        if registered is None:
            installed = ", ".join(self.registered)
            raise UnknownPluginError(
                f"no {self.point.noun} for {self.point.key_name} {key!r} (installed: {installed})"
            )
        return registered.item

    def plugins(self) -> list[PluginInfo]:
        """Every plugin of this point, by name, with the items it registers."""
        return [
            replace(
                plugin,
                registers=tuple(
                    (self.point.kind, key)
                    for key, registered in self.registered.items()
                    if registered.plugin == plugin.name
                ),
            )
            for plugin in sorted(self._plugins.values(), key=lambda plugin: plugin.name)
        ]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def autoload_enabled() -> bool:
    return not os.environ.get(DISABLE_AUTOLOAD_ENV)


_registries: dict[tuple[ExtensionPoint[Any], bool], Registry[Any]] = {}


def registry(point: ExtensionPoint[Item]) -> Registry[Item]:
    """The process-wide registry of ``point``, built on first use."""
    key = (point, autoload_enabled())
    if key not in _registries:
        _registries[key] = Registry(point, autoload=key[1])
    return cast(Registry[Item], _registries[key])


def clear_registries() -> None:
    """Forget every registry built so far: the next use loads the plugins again (tests)."""
    _registries.clear()


def installed_extension_points() -> list[ExtensionPoint[Any]]:
    """Every extension point an installed distribution declares, by group."""
    points = []
    for entry_point in metadata.entry_points(group=EXTENSION_POINTS_GROUP):
        point = entry_point.load()
        if not isinstance(point, ExtensionPoint):
            raise PluginError(
                f"entry point {entry_point.name!r} in {EXTENSION_POINTS_GROUP} "
                f"({entry_point.value}) is not an ExtensionPoint"
            )
        points.append(point)
    return sorted(points, key=lambda point: point.group)


def installed_plugins() -> list[PluginInfo]:
    """Every plugin of every installed extension point, by name, with all it registers."""
    merged: dict[str, PluginInfo] = {}
    for point in installed_extension_points():
        for plugin in registry(point).plugins():
            known = merged.get(plugin.name)
            if known is not None:
                plugin = replace(known, registers=known.registers + plugin.registers)
            merged[plugin.name] = plugin
    return [merged[name] for name in sorted(merged)]
