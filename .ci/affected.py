#!/usr/bin/env python3
"""Print the nox sessions a change needs, one per line: ``.ci/affected.py [options] FILE...``.

The sessions come from ``nox --list --json`` (run here unless ``--sessions`` names a saved
listing) and the dependency graph from the packages' ``pyproject.toml`` files, so a new package
or session needs no edit here. A session parametrized with ``package`` (a folder under
``packages/``) and optionally ``features`` (that package's extras) belongs to that package; any
other session (lint, typecheck, wheels, ...) covers the whole tree.

- A changed ``*.md`` file selects only ``lint``.
- A change under ``packages/<pkg>/`` selects every session that installs ``<pkg>`` (the
  package's own sessions, and those of every package that depends on it, counting the extras a
  session installs) and every whole-tree session.
- Any other change (``noxfile.py``, ``.ci/``, ``.github/``, a root config file, ``bench/``, ...)
  selects every session.

``--all`` selects every session; ``--json`` prints a GitHub Actions matrix instead: a list of
``{"session", "cache-id", "pyproject"}``, where ``cache-id`` is the session name as a cache key
allows it and ``pyproject`` the file (or glob) whose hash keys the session's dependency cache.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import workspace

#: The session a documentation-only change still needs.
DOCS_SESSION = "lint"
DOCS_SUFFIX = ".md"


@dataclass(frozen=True)
class Session:
    name: str
    #: The package folder the session belongs to; None for a whole-tree session.
    package: str | None
    #: The package folders the session installs; None for a whole-tree session.
    installs: frozenset[str] | None

    @property
    def cache_id(self) -> str:
        """The name without the characters a cache key may not hold (commas, brackets)."""
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-")

    @property
    def pyproject(self) -> str:
        folder = self.package if self.package is not None else "*"
        return f"{workspace.PACKAGES_DIR}/{folder}/pyproject.toml"


def sessions_from_listing(
    listing: Iterable[Mapping[str, Any]], packages: Mapping[str, workspace.Package]
) -> list[Session]:
    """The sessions of a ``nox --list --json`` listing, each with the packages it installs."""
    sessions = []
    for entry in listing:
        call_spec = entry.get("call_spec") or {}
        folder = call_spec.get("package")
        if folder is None:
            sessions.append(Session(entry["session"], None, None))
            continue
        if folder not in packages:
            raise workspace.WorkspaceError(
                f"session {entry['session']} names package {folder!r}, which has no "
                f"{workspace.PACKAGES_DIR}/{folder}/pyproject.toml"
            )
        features = tuple(call_spec.get("features") or ())
        installs = workspace.installed_with(packages, folder, features)
        sessions.append(Session(entry["session"], folder, installs))
    return sessions


def select(
    changed: Iterable[str],
    sessions: Sequence[Session],
    packages: Mapping[str, workspace.Package],
) -> list[Session]:
    """The sessions the changed paths need, in listing order."""
    touched: set[str] = set()
    docs_changed = False
    for path in changed:
        if path.endswith(DOCS_SUFFIX):
            docs_changed = True
            continue
        folder = workspace.package_of(path, packages)
        if folder is None:
            return list(sessions)
        touched.add(folder)
    return [
        session
        for session in sessions
        if (touched and (session.installs is None or session.installs & touched))
        or (docs_changed and session.name == DOCS_SESSION)
    ]


def nox_listing(root: Path) -> list[dict[str, Any]]:
    """``nox --list --json`` for the noxfile at ``root``."""
    command = [sys.executable, "-m", "nox", "--list", "--json", "-f", str(root / "noxfile.py")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root)
    if result.returncode != 0:
        raise workspace.WorkspaceError(f"nox --list --json failed:\n{result.stderr.strip()}")
    listing: list[dict[str, Any]] = json.loads(result.stdout)
    return listing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", metavar="FILE", help="changed paths, from the root")
    parser.add_argument("--all", action="store_true", help="select every session")
    parser.add_argument("--json", action="store_true", help="print a GitHub Actions matrix")
    parser.add_argument(
        "--sessions", type=Path, metavar="LISTING", help="a saved `nox --list --json` output"
    )
    args = parser.parse_args(argv)
    if args.all and args.files:
        parser.error("give --all or changed files, not both")
    try:
        packages = workspace.load()
        listing = (
            json.loads(args.sessions.read_text())
            if args.sessions is not None
            else nox_listing(workspace.ROOT)
        )
        sessions = sessions_from_listing(listing, packages)
    except (OSError, ValueError, workspace.WorkspaceError) as exc:
        print(f"affected.py: {exc}", file=sys.stderr)
        return 2
    chosen = sessions if args.all else select(args.files, sessions, packages)
    if args.json:
        matrix = [
            {"session": s.name, "cache-id": s.cache_id, "pyproject": s.pyproject} for s in chosen
        ]
        print(json.dumps(matrix))
    else:
        for session in chosen:
            print(session.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
