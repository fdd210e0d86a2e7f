"""Entry point of ``yoi``.

The top level dispatches by hand instead of through click so that ``yoi --help`` imports only
the plugin registry: click, attrs, the stores and the Runtime load when a command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from yoi_base.registry import PluginError

from yoi_cli.plugins import registry

USAGE_ERROR = 2

_DESCRIPTION = """\
yoi keeps long-running, named LLM Workers (Pods) with durable metadata and replayable
session history, hosts them in an embeddable Runtime driven over REST, and cleans their
storage up safely."""

_ENVIRONMENT = """\
environment:
  YOI_DATA_DIR     data dir (Pod metadata, sessions); else $YOI_HOME, else ~/.yoi
  YOI_RUNTIME_DIR  runtime dir (locks, sockets); else $YOI_HOME/run, else
                   $XDG_RUNTIME_DIR/yoi, else ~/.yoi/run
  YOI_STORE        store URL for both stores (fs:, fs:///path, memory:, ...); default fs:
  YOI_DISABLE_PLUGIN_AUTOLOAD  set to 1 to load only built-in commands and backends"""


def _print_help() -> None:
    commands = registry().registered
    width = max((len(name) for name in commands), default=0)
    lines = ["usage: yoi [--help] [--version] COMMAND [ARGS]...", "", _DESCRIPTION, "", "commands:"]
    lines += [f"  {name.ljust(width)}  {entry.item.summary}" for name, entry in commands.items()]
    lines += ["", "Run `yoi COMMAND --help` for a command's options and examples.", ""]
    lines += [_ENVIRONMENT]
    print("\n".join(lines))


def _usage_error(message: str) -> int:
    print(f"yoi: {message}", file=sys.stderr)
    print("try `yoi --help` for usage.", file=sys.stderr)
    return USAGE_ERROR


def run(argv: Sequence[str]) -> int:
    """Run ``yoi`` with the given arguments (without the program name); return the exit code."""
    args = list(argv)
    try:
        if not args or args[0] in ("-h", "--help", "help"):
            _print_help()
            return 0
        if args[0] == "--version":
            from importlib import metadata

            print(f"yoi {metadata.version('yoi-cli')}")
            return 0
        if args[0].startswith("-"):
            return _usage_error(f"unknown option `{args[0]}`")
        entry = registry().registered.get(args[0])
    except PluginError as error:
        print(f"yoi: {error}", file=sys.stderr)
        return 1
    if entry is None:
        return _usage_error(f"unknown command `{args[0]}`")
    from yoi_cli.invoke import invoke

    return invoke(entry.item, args[1:])


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
