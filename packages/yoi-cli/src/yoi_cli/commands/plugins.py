"""``yoi plugins``: every plugin of every yoi extension point, with what it registers."""

from __future__ import annotations

import json
from dataclasses import dataclass

import click


@dataclass
class _Plugin:
    name: str
    distribution: str
    version: str
    registers: list[tuple[str, str]]


def _collect() -> list[_Plugin]:
    from yoi_pod_store.plugins import registry as pod_store_registry
    from yoi_session_store.plugins import registry as session_store_registry

    from yoi_cli.plugins import registry as cli_registry

    merged: dict[str, _Plugin] = {}
    for infos in (
        cli_registry().plugins(),
        pod_store_registry().plugins(),
        session_store_registry().plugins(),
    ):
        for info in infos:
            plugin = merged.setdefault(
                info.name, _Plugin(info.name, info.distribution, info.version, [])
            )
            plugin.registers.extend(info.registers)
    return [merged[name] for name in sorted(merged)]


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
def plugins_command(as_json: bool) -> int:
    """List installed plugins, their distributions and what they register.

    Built-in commands and backends are plugins too; third-party ones come from the
    `yoi.cli`, `yoi.pod_store` and `yoi.session_store` entry-point groups (set
    YOI_DISABLE_PLUGIN_AUTOLOAD=1 to skip them).
    """
    try:
        plugins = _collect()
    except RuntimeError as error:  # a PluginConflictError of any registry
        raise click.ClickException(str(error)) from error
    if as_json:
        document = {
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
        click.echo(json.dumps(document, indent=2))
        return 0
    for plugin in plugins:
        click.echo(f"{plugin.distribution} {plugin.version}  [{plugin.name}]")
        for kind, name in plugin.registers:
            click.echo(f"  {kind.replace('_', ' ')}: {name}")
    return 0
