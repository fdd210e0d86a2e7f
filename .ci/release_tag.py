#!/usr/bin/env python3
"""Check a release tag and print what it releases: ``.ci/release_tag.py TAG``.

A release tag is ``<distribution>-v<version>`` (``yoi-pod-store-v0.1.0``): the distribution of
one package under ``packages/`` and exactly the version its ``pyproject.toml`` declares, the one
version source of each package. Prints ``path=``, ``dist=`` and ``version=`` lines (the format
of ``$GITHUB_OUTPUT``); a tag that does not fit exits 2 with the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import workspace

TAG_SEPARATOR = "-v"


def package_for_tag(tag: str, packages: Mapping[str, workspace.Package]) -> workspace.Package:
    """The package a release tag names, after checking its version."""
    dist, separator, version = tag.rpartition(TAG_SEPARATOR)
    if not (dist and separator and version):
        raise workspace.WorkspaceError(f"tag {tag!r} is not <distribution>{TAG_SEPARATOR}<version>")
    named = [package for package in packages.values() if package.dist == workspace.normalize(dist)]
    if not named:
        known = ", ".join(sorted(package.dist for package in packages.values()))
        raise workspace.WorkspaceError(
            f"no package is distributed as {dist!r} (there are: {known})"
        )
    package = named[0]
    if package.version != version:
        raise workspace.WorkspaceError(
            f"tag {tag} is for version {version}, but {package.path}/pyproject.toml declares "
            f"version {package.version}"
        )
    return package


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        print("usage: release_tag.py TAG", file=sys.stderr)
        return 2
    try:
        package = package_for_tag(args[0], workspace.load())
    except workspace.WorkspaceError as exc:
        print(f"release_tag.py: {exc}", file=sys.stderr)
        return 2
    print(f"path={package.path}\ndist={package.dist}\nversion={package.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
