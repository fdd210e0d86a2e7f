#!/usr/bin/env python3
"""The pre-commit mypy hook: ``mypy --strict`` over each package the given files belong to.

Runs the mypy of the current environment (a development venv with the packages installed
editable), one package at a time as the ``typecheck`` nox session does, over the package's
``src`` and ``tests``. Files outside ``packages/`` are left to the nox sessions.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import workspace


def changed_packages(paths: Sequence[str]) -> list[workspace.Package]:
    packages = workspace.load()
    folders = {folder for path in paths if (folder := workspace.package_of(path, packages))}
    return [packages[folder] for folder in sorted(folders)]


def main(argv: Sequence[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    worst = 0
    for package in changed_packages(paths):
        root = workspace.ROOT / package.path
        targets = [str(root / part) for part in ("src", "tests") if (root / part).is_dir()]
        config = str(workspace.ROOT / "mypy.ini")
        command = [sys.executable, "-m", "mypy", "--config-file", config, *targets]
        worst = max(worst, subprocess.run(command, check=False).returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main())
