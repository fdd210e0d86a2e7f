"""Optional features of yoi-cli and the clear error when one is not installed."""

from __future__ import annotations

import importlib.util

import click

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
