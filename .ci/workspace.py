"""The packages of this repository, as their ``packages/*/pyproject.toml`` files declare them.

Standard library only, so CI can read it before anything is installed. A package is a folder
under ``packages/`` with a ``pyproject.toml``; a sibling dependency is a requirement (plain or
in an extra) naming another package's distribution.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES_DIR = "packages"
#: The ``extra`` key of a package's own (always installed) dependencies.
BASE = ""

_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?")


class WorkspaceError(Exception):
    """A pyproject.toml or an argument that does not fit the repository's layout."""


def normalize(name: str) -> str:
    """A distribution or extra name as packaging compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Sibling:
    """A requirement on another package of this repository, with the extras it asks for."""

    dist: str
    extras: tuple[str, ...]


@dataclass(frozen=True)
class Package:
    folder: str
    dist: str
    #: None when the version is dynamic (this repository keeps it in pyproject.toml).
    version: str | None
    #: Sibling requirements by extra (``BASE`` for the plain dependencies); every extra is a key.
    siblings: Mapping[str, tuple[Sibling, ...]]

    @property
    def path(self) -> str:
        return f"{PACKAGES_DIR}/{self.folder}"


def load(root: Path = ROOT) -> dict[str, Package]:
    """Every package under ``root/packages``, by folder name."""
    projects = {}
    for pyproject in sorted((root / PACKAGES_DIR).glob("*/pyproject.toml")):
        try:
            projects[pyproject.parent.name] = tomllib.loads(pyproject.read_text())["project"]
        except (tomllib.TOMLDecodeError, KeyError) as exc:
            raise WorkspaceError(f"{pyproject}: no readable [project] table ({exc})") from None
    dists = {normalize(project["name"]) for project in projects.values()}
    return {
        folder: Package(
            folder=folder,
            dist=normalize(project["name"]),
            version=project.get("version"),
            siblings=_siblings(project, dists),
        )
        for folder, project in projects.items()
    }


def _siblings(project: dict[str, Any], dists: set[str]) -> dict[str, tuple[Sibling, ...]]:
    groups: dict[str, list[str]] = {BASE: project.get("dependencies", [])}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        groups[normalize(extra)] = requirements
    found = {}
    for extra, requirements in groups.items():
        parsed = (_parse(requirement) for requirement in requirements)
        found[extra] = tuple(sibling for sibling in parsed if sibling.dist in dists)
    return found


def _parse(requirement: str) -> Sibling:
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise WorkspaceError(f"cannot read the requirement {requirement!r}")
    extras = (match[2] or "").split(",")
    return Sibling(normalize(match[1]), tuple(normalize(e.strip()) for e in extras if e.strip()))


def installed_with(
    packages: Mapping[str, Package], folder: str, features: tuple[str, ...] = ()
) -> frozenset[str]:
    """The folders whose code ``pip install packages/<folder>[features]`` installs."""
    by_dist = {package.dist: package for package in packages.values()}
    unknown = {normalize(f) for f in features} - set(packages[folder].siblings)
    if unknown:
        raise WorkspaceError(f"{folder} has no extra named {', '.join(sorted(unknown))}")
    todo = [(folder, BASE), *((folder, normalize(feature)) for feature in features)]
    seen: set[tuple[str, str]] = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for sibling in packages[node[0]].siblings.get(node[1], ()):
            dependency = by_dist[sibling.dist].folder
            todo += [(dependency, BASE), *((dependency, extra) for extra in sibling.extras)]
    return frozenset(name for name, _ in seen)


def package_of(path: str, packages: Mapping[str, Package]) -> str | None:
    """The folder of the package a repository path lies in, or None outside every package."""
    parts = PurePosixPath(path.removeprefix("./")).parts
    if len(parts) > 2 and parts[0] == PACKAGES_DIR and parts[1] in packages:
        return parts[1]
    return None
