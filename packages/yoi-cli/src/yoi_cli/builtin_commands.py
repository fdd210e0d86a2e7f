"""The commands that ship with ``yoi``, registered like any third-party plugin."""

from __future__ import annotations

from yoi_cli.plugins import CommandSpec, hookimpl


@hookimpl
def yoi_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "plugins",
            "List installed plugins, their distributions and what they register.",
            "yoi_cli.commands.plugins:plugins_command",
        ),
    ]
