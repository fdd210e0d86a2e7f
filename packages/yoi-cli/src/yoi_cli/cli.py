"""The ``yoi`` click group: commands from the ``yoi.cli`` registry, each loaded only when it runs.

Listing (``yoi --help``, shell completion of command names) uses the names and summaries that
plugins declare, so it imports no command module.
"""

from __future__ import annotations

from typing import Any

import click

from yoi_cli.overview import command_summaries, top_help
from yoi_cli.plugins import registry
from yoi_cli.shared.text import printable

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.command("help", context_settings=CONTEXT_SETTINGS)
@click.argument("words", nargs=-1, metavar="[COMMAND]...")
@click.pass_context
def help_command(ctx: click.Context, words: tuple[str, ...]) -> int:
    """Show the help of yoi, or of a command: `yoi help pod prune`."""
    target = ctx.find_root()
    for word in words:
        group = target.command
        found = group.get_command(target, word) if isinstance(group, click.Group) else None
        if found is None:
            raise click.UsageError(
                f"unknown command `{target.command_path} {printable(word)}`", ctx
            )
        target = click.Context(found, info_name=word, parent=target)
    click.echo(target.get_help())
    return 0


class YoiGroup(click.Group):
    """The top level: commands from the registry, loaded only when one runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, _ in command_summaries()]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "help":
            return help_command
        entry = registry().registered.get(name)
        return None if entry is None else entry.item.load()

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write(top_help() + "\n")

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        # Command names and summaries from the registry, without importing the commands.
        from click.shell_completion import CompletionItem

        items = [
            CompletionItem(name, help=summary)
            for name, summary in command_summaries()
            if name.startswith(incomplete)
        ]
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as error:
            raise click.UsageError(f"unknown option `{error.option_name}`", ctx) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(f"unknown command `{printable(name)}`", ctx)
        return super().resolve_command(ctx, args)


def _version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        from importlib import metadata

        click.echo(f"yoi {metadata.version('yoi-cli')}")
        ctx.exit(0)


@click.group("yoi", cls=YoiGroup, context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Print the version of yoi and exit.",
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """yoi: Workers with durable metadata and history, a Runtime, and safe cleanup."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
