"""Strict click parsing with yoi's messages, and the options the cleanup commands share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from yoi_cli.shared.duration import DurationError, parse_duration
from yoi_cli.shared.text import printable

#: The phrase used when an option is given without its value.
_VALUE_NAMES = {"--older-than": "a duration value", "--grace": "a duration value"}


def _strict_parse(ctx: click.Context, args: list[str], parse: Any) -> list[str]:
    """Run click's parser, turning its generic messages into the ones yoi documents."""
    try:
        rest: list[str] = parse(ctx, args)
    except click.NoSuchOption as error:
        raise click.UsageError(
            f"unknown {ctx.command_path} option `{error.option_name}`", ctx
        ) from None
    except click.BadOptionUsage as error:
        if "requires an argument" not in error.message:
            raise
        value = _VALUE_NAMES.get(error.option_name, "a value")
        raise click.UsageError(f"{error.option_name} requires {value}", ctx) from None
    return rest


class StrictCommand(click.Command):
    """A command whose usage errors name the command and the offending word."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {})["allow_extra_args"] = True
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = _strict_parse(ctx, args, super().parse_args)
        if ctx.args:
            raise click.UsageError(
                f"{ctx.command_path} accepts no positional arguments "
                f"(got `{printable(ctx.args[0])}`)",
                ctx,
            )
        return rest


class StrictGroup(click.Group):
    command_class = StrictCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return _strict_parse(ctx, args, super().parse_args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(f"unknown {ctx.command_path} command `{printable(name)}`", ctx)
        return super().resolve_command(ctx, args)


def command_context(ctx: click.Context) -> click.Context:
    """The context of the top-level command running (``yoi pod``), whose options its
    subcommands read (``yoi pod --store URL list``)."""
    while ctx.parent is not None and ctx.parent.parent is not None:
        ctx = ctx.parent
    return ctx


def one_argument(values: Sequence[str], missing: str, many: str) -> str:
    """The single positional argument of a command, or a specific usage error."""
    if not values:
        raise click.UsageError(missing)
    if len(values) > 1:
        raise click.UsageError(many)
    return values[0]


def duration_option(ctx: click.Context, _: click.Parameter, value: str | None) -> int | None:
    """Click callback: ``--older-than``/``--grace`` in seconds, or the grammar's own message."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except DurationError as error:
        raise click.UsageError(str(error), ctx) from None


def destructive_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--force``, ``--dry-run`` and ``--json``: the switches of every command that deletes."""
    for option in (
        click.option(
            "--json", "as_json", is_flag=True, help="Print one JSON document listing every item."
        ),
        click.option("--dry-run", is_flag=True, help="Report only, even with --force."),
        click.option("--force", is_flag=True, help="Really delete (without it: report only)."),
    ):
        command = option(command)
    return command


def force_mode(force: bool, dry_run: bool) -> bool:
    """Deletes happen only with ``--force`` and without ``--dry-run`` (``--dry-run`` wins)."""
    return force and not dry_run
