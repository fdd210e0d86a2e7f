"""The ``yoi.cli`` extension point: how ``yoi`` subcommands are found.

A plugin implements :func:`yoi_cli_commands` and returns :class:`CommandSpec` values. A spec
names its click command by ``"module:attribute"``, so ``yoi --help`` can list every command
without importing any of them; the module is imported only when the command runs. The built-in
commands register through this same hook; third-party distributions add theirs with one entry
point in the ``yoi.cli`` group.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, cast

import pluggy

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "yoi.cli"
#: Set to a non-empty value to load only built-in commands and backends (tests, debugging).
DISABLE_AUTOLOAD_ENV = "YOI_DISABLE_PLUGIN_AUTOLOAD"

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)

_OWN_DISTRIBUTION = "yoi-cli"


@dataclass(frozen=True)
class CommandSpec:
    """A ``yoi`` subcommand: its name, a one-line summary and where its click command lives."""

    name: str
    summary: str
    #: ``"package.module:attribute"`` of a ``click.Command``; imported only when it runs.
    target: str

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


class CliHookSpec:
    @hookspec
    def yoi_cli_commands(self) -> list[CommandSpec]:  # type: ignore[empty-body]
        """Return the ``yoi`` subcommands this plugin provides."""


class PluginConflictError(RuntimeError):
    """Two plugins provide a command of the same name."""


@dataclass(frozen=True)
class RegisteredCommand:
    spec: CommandSpec
    plugin: str
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    registers: tuple[tuple[str, str], ...] = field(default=())


class CommandRegistry:
    def __init__(self, *, autoload: bool) -> None:
        self._manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self._manager.add_hookspecs(CliHookSpec)
        self._origin: dict[str, tuple[str, str]] = {}
        from yoi_cli import builtin_commands

        self._register(builtin_commands, "builtin", _OWN_DISTRIBUTION, _own_version())
        if autoload:
            for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = entry_point.dist
                self._register(
                    entry_point.load(),
                    entry_point.name,
                    dist.name if dist else "unknown",
                    dist.version if dist else "unknown",
                )
        self._commands = self._collect()

    def _register(self, plugin: object, name: str, distribution: str, version: str) -> None:
        plugin_name = f"{distribution}:{name}"
        if self._manager.is_registered(plugin) or self._manager.has_plugin(plugin_name):
            return
        self._manager.register(plugin, name=plugin_name)
        self._origin[plugin_name] = (distribution, version)

    def _collect(self) -> dict[str, RegisteredCommand]:
        found: dict[str, RegisteredCommand] = {}
        for impl in self._manager.hook.yoi_cli_commands.get_hookimpls():
            distribution, version = self._origin[impl.plugin_name]
            specs = cast(list[CommandSpec], impl.function())
            for spec in specs:
                if spec.name in found:
                    other = found[spec.name]
                    raise PluginConflictError(
                        f"yoi command {spec.name!r} is provided by both "
                        f"{other.distribution} and {distribution}; uninstall one of them"
                    )
                found[spec.name] = RegisteredCommand(spec, impl.plugin_name, distribution, version)
        return dict(sorted(found.items()))

    @property
    def commands(self) -> dict[str, RegisteredCommand]:
        return dict(self._commands)

    def plugins(self) -> list[PluginInfo]:
        infos = []
        for plugin_name, (distribution, version) in sorted(self._origin.items()):
            names = tuple(
                ("cli_command", name)
                for name, registered in self._commands.items()
                if registered.plugin == plugin_name
            )
            infos.append(PluginInfo(plugin_name, distribution, version, names))
        return infos


def _own_version() -> str:
    try:
        return metadata.version(_OWN_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def autoload_enabled() -> bool:
    return not os.environ.get(DISABLE_AUTOLOAD_ENV)


@cache
def _registry(autoload: bool) -> CommandRegistry:
    return CommandRegistry(autoload=autoload)


def registry() -> CommandRegistry:
    """The process-wide command registry (autoloading honours ``YOI_DISABLE_PLUGIN_AUTOLOAD``)."""
    return _registry(autoload_enabled())
