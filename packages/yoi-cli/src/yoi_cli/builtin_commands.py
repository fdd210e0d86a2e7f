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
        CommandSpec(
            "runtime",
            "Host a Runtime and serve its REST API (yoi runtime serve).",
            "yoi_cli.commands.runtime:runtime_group",
        ),
        CommandSpec(
            "worker",
            "Drive a Runtime's Workers over REST: create, input, transcript, events, ...",
            "yoi_cli.commands.worker:worker_group",
        ),
        CommandSpec(
            "pod",
            "List, show, delete and prune Pod metadata (live Pods are never deleted).",
            "yoi_cli.commands.pod:pod_group",
        ),
        CommandSpec(
            "session",
            "List, show, count and prune session logs (referenced sessions are kept).",
            "yoi_cli.commands.session:session_group",
        ),
    ]
