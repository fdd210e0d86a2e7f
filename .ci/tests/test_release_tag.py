"""Release tags name one package and its pyproject.toml version."""

from __future__ import annotations

import subprocess
import sys

import pytest
import workspace
from release_tag import package_for_tag

RELEASE_TAG = workspace.ROOT / ".ci" / "release_tag.py"


def test_every_package_is_released_by_its_distribution_and_version(
    packages: dict[str, workspace.Package],
) -> None:
    for package in packages.values():
        assert package_for_tag(f"{package.dist}-v{package.version}", packages) == package


def test_a_tag_for_another_version_names_the_declared_one(
    packages: dict[str, workspace.Package],
) -> None:
    pod_store = packages["pod-store"]
    with pytest.raises(workspace.WorkspaceError) as error:
        package_for_tag("yoi-pod-store-v99.0.0", packages)
    assert str(error.value) == (
        f"tag yoi-pod-store-v99.0.0 is for version 99.0.0, but packages/pod-store/pyproject.toml "
        f"declares version {pod_store.version}"
    )


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("v0.1.0", "is not <distribution>-v<version>"),
        ("yoi-pod-store-v", "is not <distribution>-v<version>"),
        ("yoi-nothing-v0.1.0", "no package is distributed as 'yoi-nothing'"),
    ],
)
def test_a_tag_that_names_no_package_is_refused(
    tag: str, reason: str, packages: dict[str, workspace.Package]
) -> None:
    with pytest.raises(workspace.WorkspaceError, match=reason):
        package_for_tag(tag, packages)


def test_the_command_prints_github_outputs(packages: dict[str, workspace.Package]) -> None:
    cli = packages["yoi-cli"]
    done = subprocess.run(
        [sys.executable, str(RELEASE_TAG), f"yoi-cli-v{cli.version}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "path=packages/yoi-cli",
        "dist=yoi-cli",
        f"version={cli.version}",
    ]
    refused = subprocess.run(
        [sys.executable, str(RELEASE_TAG), "yoi-cli-v0.0.0-nope"], capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "declares version" in refused.stderr
