from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pg_cluster import throwaway_cluster

URL_ENV = "YOI_TEST_POSTGRES_URL"


class Closable(Protocol):
    def close(self) -> None: ...


_C = TypeVar("_C", bound=Closable)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """``$YOI_TEST_POSTGRES_URL``, else a cluster started for this test run."""
    given = os.environ.get(URL_ENV)
    if given:
        yield given
        return
    with throwaway_cluster() as url:
        yield url


def with_options(url: str, **options: object) -> str:
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest.fixture
def schema(server_url: str) -> Iterator[str]:
    """A schema of its own for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def store_url(server_url: str, schema: str) -> str:
    """A store URL on a fresh schema with a short lease TTL (1 s) so expiry tests are quick."""
    return with_options(server_url, schema=schema, lease_ttl=1)


@pytest.fixture
def sql(server_url: str, schema: str) -> Callable[..., list[tuple[Any, ...]]]:
    """Run one statement in the test's schema, bypassing the stores (to plant or inspect rows)."""

    def run(query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(
            server_url, autocommit=True, options=f"-c search_path={schema}"
        ) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    return run


@pytest.fixture
def closing() -> Iterator[Callable[[_C], _C]]:
    """Register stores (or anything with close()) to close when the test ends."""
    opened: list[Closable] = []

    def register(thing: _C) -> _C:
        opened.append(thing)
        return thing

    yield register
    for thing in reversed(opened):
        thing.close()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real ~/.yoi."""
    monkeypatch.setenv("YOI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))
    for name in ("YOI_STORE", "YOI_POD_STORE", "YOI_SESSION_STORE"):
        monkeypatch.delenv(name, raising=False)
