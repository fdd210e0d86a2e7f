"""The ``yoi example-hello`` command."""

from __future__ import annotations

import click


@click.command()
@click.argument("name")
@click.option("--store", "store_url", default="example:", help="Session store URL to open.")
def hello(name: str, store_url: str) -> int:
    """Greet NAME and report how many sessions the store at --store holds."""
    from yoi_session_store.plugins import open_session_store

    store = open_session_store(store_url)
    try:
        click.echo(f"hello {name}")
        click.echo(f"store: {type(store).__name__} sessions={len(store.list_sessions())}")
    finally:
        store.close()
    return 0
