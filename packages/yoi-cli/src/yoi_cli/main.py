"""Entry point of ``yoi``, with yoi's conventions for help, errors and exit codes.

- help goes to stdout with exit 0 (``-h``, ``--help``, ``yoi help COMMAND...``, a bare group);
  the top-level help is printed without loading click, so ``yoi --help`` stays fast;
- bad usage prints ``yoi: <message>`` and a hint on stderr and exits 2; so does an argument
  that is not UTF-8 (one line);
- a command's own failure (a :class:`click.ClickException`) prints ``yoi <command>: <message>``
  and exits 1; commands return their exit code (1 for a refusal, 130 when Ctrl-C stopped them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from yoi_base.registry import PluginError

USAGE_ERROR = 2
#: 128 + SIGINT, as shells report a program stopped by Ctrl-C.
INTERRUPTED = 130
_TOP_HELP: tuple[list[str], ...] = ([], ["-h"], ["--help"], ["help"])
#: Set by the shell completion scripts click writes (``_YOI_COMPLETE=bash_source yoi``).
COMPLETION_ENV = "_YOI_COMPLETE"


def _not_utf8(args: Sequence[str]) -> str | None:
    """The first argument the OS gave that is not UTF-8 (Python keeps it as surrogates)."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return os.fsencode(arg).decode("ascii", "backslashreplace")
    return None


def run(argv: Sequence[str]) -> int:
    """Run ``yoi`` with the given arguments (without the program name); return the exit code."""
    args = list(argv)
    bad = _not_utf8(args)
    if bad is not None:
        print(f"yoi: argument `{bad}` is not valid UTF-8", file=sys.stderr)
        return USAGE_ERROR
    try:
        if args in _TOP_HELP and COMPLETION_ENV not in os.environ:
            from yoi_cli.overview import top_help

            print(top_help())
            return 0
        return _run_click(args)
    except PluginError as error:
        print(f"yoi: {error}", file=sys.stderr)
        return 1


def _run_click(args: list[str]) -> int:
    import click

    from yoi_cli.cli import cli

    # A failure names the command it happened in: `yoi pod: ...`.
    command_name = f"yoi {args[0]}" if args and not args[0].startswith("-") else "yoi"
    try:
        result = cli.main(args, prog_name="yoi", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else "")
        return 0
    except click.UsageError as error:
        command_path = error.ctx.command_path if error.ctx else "yoi"
        print(f"yoi: {error.format_message()}", file=sys.stderr)
        print(f"try `{command_path} --help` for usage.", file=sys.stderr)
        return USAGE_ERROR
    except click.ClickException as error:
        print(f"{command_name}: {error.format_message()}", file=sys.stderr)
        return error.exit_code
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.Abort:  # Ctrl-C outside a command that handles it
        print(f"{command_name}: aborted", file=sys.stderr)
        return INTERRUPTED
    return result if isinstance(result, int) else 0


def main() -> None:
    try:
        code = run(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`yoi ... | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    sys.exit(code)
