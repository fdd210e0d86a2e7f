"""The ``yoi.cli`` extension point: how ``yoi`` subcommands are found.

A plugin implements :func:`yoi_cli_commands` and returns :class:`CommandSpec` values. A spec
names its click command by ``"module:attribute"``, so ``yoi --help`` can list every command
without importing any of them; the module is imported only when the command runs. The built-in
commands register through this same hook; third-party distributions add theirs with one entry
point in the ``yoi.cli`` group. The registry is yoi-base's, shared by every extension point.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pluggy
from yoi_base.registry import ExtensionPoint, Registry
from yoi_base.registry import registry as _registry

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "yoi.cli"

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)


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


COMMANDS: ExtensionPoint[CommandSpec] = ExtensionPoint(
    group=ENTRY_POINT_GROUP,
    hookspecs=CliHookSpec,
    hook="yoi_cli_commands",
    kind="cli_command",
    key=lambda spec: spec.name,
    distribution="yoi-cli",
    builtins={"builtin": "yoi_cli.builtin_commands"},
)


def registry() -> Registry[CommandSpec]:
    """The process-wide command registry (autoloading honours ``YOI_DISABLE_PLUGIN_AUTOLOAD``)."""
    return _registry(COMMANDS)
