"""The real repository: its packages' pyproject.toml files and its noxfile's session listing."""

from __future__ import annotations

from typing import Any

import pytest
import workspace
from affected import Session, nox_listing, sessions_from_listing


@pytest.fixture(scope="session")
def packages() -> dict[str, workspace.Package]:
    return workspace.load()


@pytest.fixture(scope="session")
def listing() -> list[dict[str, Any]]:
    return nox_listing(workspace.ROOT)


@pytest.fixture(scope="session")
def sessions(
    listing: list[dict[str, Any]], packages: dict[str, workspace.Package]
) -> list[Session]:
    return sessions_from_listing(listing, packages)
