"""What ``yoi --help`` says: the commands (names and summaries from the registry, no command
module imported), the environment, and where to look next. Loads neither click nor a store."""

from __future__ import annotations

from yoi_cli.plugins import registry

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

HELP_SUMMARY = "Show the help of a command: yoi help COMMAND [SUBCOMMAND]..."


def command_summaries() -> list[tuple[str, str]]:
    """Every command's name and one-line summary, ``help`` included, by name."""
    rows = [(name, entry.item.summary) for name, entry in registry().registered.items()]
    return sorted([*rows, ("help", HELP_SUMMARY)])


def top_help() -> str:
    rows = command_summaries()
    width = max(len(name) for name, _ in rows)
    return "\n".join(
        [
            "usage: yoi [-h|--help] [--version] COMMAND [ARGS]...",
            "",
            _DESCRIPTION,
            "",
            "commands:",
            *(f"  {name.ljust(width)}  {summary}" for name, summary in rows),
            "",
            "Run `yoi COMMAND --help` (or `yoi help COMMAND`) for a command's options.",
            "",
            _ENVIRONMENT,
        ]
    )
