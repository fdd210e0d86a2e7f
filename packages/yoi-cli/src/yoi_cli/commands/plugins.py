"""``yoi plugins``: every plugin of every installed yoi extension point, with what it registers."""

from __future__ import annotations

import json
from typing import Any

import click
from yoi_base.registry import PluginError, PluginInfo, installed_plugins


def plugins_document(plugins: list[PluginInfo]) -> dict[str, Any]:
    return {
        "plugins": [
            {
                "name": plugin.name,
                "distribution": plugin.distribution,
                "version": plugin.version,
                "registers": [{"kind": kind, "name": name} for kind, name in plugin.registers],
            }
            for plugin in plugins
        ]
    }


def render_plugins(plugins: list[PluginInfo]) -> list[str]:
    lines = []
    for plugin in plugins:
        lines.append(f"{plugin.distribution} {plugin.version}  [{plugin.name}]")
        lines += [f"  {kind.replace('_', ' ')}: {name}" for kind, name in plugin.registers]
    return lines


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
def plugins_command(as_json: bool) -> int:
    """List installed plugins, their distributions and what they register.

    Built-in commands and backends are plugins too; third-party ones come from the entry-point
    group of each extension point (`yoi.cli`, `yoi.pod_store`, `yoi.session_store`, ...; set
    YOI_DISABLE_PLUGIN_AUTOLOAD=1 to skip them).
    """
    try:
        plugins = installed_plugins()
    except PluginError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(plugins_document(plugins), indent=2))
    else:
        for line in render_plugins(plugins):
            click.echo(line)
    return 0
