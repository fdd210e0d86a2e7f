"""Optional features of yoi-cli and the clear error when one is not installed."""

from __future__ import annotations

import importlib.util
from typing import Any

import click

from yoi_cli.shared.parsing import command_context

RUNTIME_EXTRA_HINT = "pip install 'yoi-cli[runtime]'"


def runtime_installed() -> bool:
    return importlib.util.find_spec("yoi_worker_runtime") is not None


def require_runtime(what: str) -> None:
    """Fail with a message naming the extra when the Runtime is not installed."""
    if not runtime_installed():
        raise click.ClickException(
            f"{what} needs the yoi Runtime, which is not installed; "
            f"install it with: {RUNTIME_EXTRA_HINT}"
        )


def require_runtime_feature(what: str, feature: str) -> None:
    """Fail naming the extra when the Runtime is installed without one of its features (its
    server, say): ``yoi worker`` needs the core only, ``yoi runtime serve`` more."""
    from yoi_worker_runtime.features import missing_modules

    missing = missing_modules(feature)
    if missing:
        raise click.ClickException(
            f"{what} needs the {feature} feature of yoi-worker-runtime ({', '.join(missing)} "
            f"not installed); install it with: {RUNTIME_EXTRA_HINT}"
        )


class RuntimeCommand(click.Command):
    """A command that needs the Runtime: without it, running it names the extra to install
    (its help still works)."""

    def invoke(self, ctx: click.Context) -> Any:
        require_runtime(command_context(ctx).command_path)
        return super().invoke(ctx)


class RuntimeGroup(click.Group):
    """A group of :class:`RuntimeCommand` s."""

    command_class = RuntimeCommand
