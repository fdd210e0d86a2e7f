"""Running one click command with yoi's conventions for help, errors and exit codes.

- help goes to stdout with exit 0;
- bad usage prints ``yoi: <message>`` and a hint on stderr and exits 2;
- a command's own failure (a :class:`click.ClickException`) prints ``yoi <command>: <message>``
  and exits 1; commands return their exit code (1 for a refusal).
"""

from __future__ import annotations

import sys

import click

from yoi_cli.plugins import CommandSpec


def invoke(spec: CommandSpec, args: list[str]) -> int:
    command = spec.load()
    prog_name = f"yoi {spec.name}"
    try:
        result = command.main(args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else "")
        return 0
    except click.UsageError as error:
        command_path = error.ctx.command_path if error.ctx else prog_name
        print(f"yoi: {error.format_message()}", file=sys.stderr)
        print(f"try `{command_path} --help` for usage.", file=sys.stderr)
        return error.exit_code  # 2, as for every usage error
    except click.ClickException as error:
        print(f"{prog_name}: {error.format_message()}", file=sys.stderr)
        return error.exit_code
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.Abort:
        print(f"{prog_name}: aborted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    if isinstance(result, int):
        return result
    return 0
