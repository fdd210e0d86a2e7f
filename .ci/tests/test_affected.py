"""Which sessions a change runs, over the real pyproject.toml files and nox listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import workspace
from affected import Session, select, sessions_from_listing

AFFECTED = workspace.ROOT / ".ci" / "affected.py"


def names(chosen: list[Session]) -> set[str]:
    return {session.name for session in chosen}


def test_a_pod_store_change_runs_every_package_that_installs_pod_store(
    sessions: list[Session], packages: dict[str, workspace.Package]
) -> None:
    chosen = names(select(["packages/pod-store/src/yoi_pod_store/model.py"], sessions, packages))
    # Its own tests, yoi-cli (a plain dependency), worker-runtime with fs-store (an extra), and
    # postgres, the session that tests store-postgres and every package it shares a server with.
    assert {
        "tests(pod-store)",
        "tests(yoi-cli)",
        "tests(yoi-cli[runtime])",
        "tests(worker-runtime[fs-store])",
        "tests(worker-runtime[fs-store,http-server])",
        "postgres",
        "lint",
        "typecheck",
        "wheels",
    } <= chosen
    # Nothing that never installs pod-store.
    assert (
        not {
            "tests(session-store)",
            "tests(worker-runtime)",
            "tests(worker-runtime[http-server])",
        }
        & chosen
    )


def test_an_extra_brings_its_dependencies_only_to_the_sessions_that_install_it(
    sessions: list[Session], packages: dict[str, workspace.Package]
) -> None:
    chosen = names(select(["packages/worker-runtime/src/x.py"], sessions, packages))
    assert "tests(yoi-cli[runtime])" in chosen
    assert "tests(yoi-cli)" not in chosen
    assert "tests(pod-store)" not in chosen


def test_a_documentation_only_change_runs_only_lint(
    sessions: list[Session], packages: dict[str, workspace.Package]
) -> None:
    changed = ["README.md", "CONTRIBUTING.md", "packages/session-store/README.md"]
    assert [s.name for s in select(changed, sessions, packages)] == ["lint"]


@pytest.mark.parametrize(
    "path",
    [
        "noxfile.py",
        ".ci/run",
        ".ci/affected.py",
        "ruff.toml",
        "mypy.ini",
        ".github/workflows/ci.yml",
    ],
)
def test_a_change_outside_the_packages_runs_everything(
    path: str, sessions: list[Session], packages: dict[str, workspace.Package]
) -> None:
    assert select(["packages/pod-store/README.md", path], sessions, packages) == sessions


def test_no_change_runs_nothing(
    sessions: list[Session], packages: dict[str, workspace.Package]
) -> None:
    assert select([], sessions, packages) == []


def write_package(root: Path, folder: str, dist: str, body: str = "") -> None:
    (root / "packages" / folder).mkdir(parents=True)
    project = f'[project]\nname = "{dist}"\nversion = "1.0"\n{body}'
    (root / "packages" / folder / "pyproject.toml").write_text(project)


def test_new_packages_and_sessions_are_picked_up_from_disk(tmp_path: Path) -> None:
    write_package(tmp_path, "base", "yoi-base")
    write_package(tmp_path, "engine", "yoi-engine", 'dependencies = ["Yoi_Base >=1.0,<2"]\n')
    extra = "engine = [\"yoi-engine[extra-one]>=1; python_version>'3'\"]\n"
    write_package(tmp_path, "tools", "yoi-tools", f"[project.optional-dependencies]\n{extra}")
    listing: list[dict[str, Any]] = [
        {"session": "tests(base)", "call_spec": {"package": "base", "features": []}},
        {"session": "mutation(engine)", "call_spec": {"package": "engine"}},
        {"session": "tests(tools)", "call_spec": {"package": "tools", "features": []}},
        {
            "session": "tests(tools[engine])",
            "call_spec": {"package": "tools", "features": ["engine"]},
        },
        {"session": "llm-server", "call_spec": {}},
        {"session": "lint", "call_spec": {}},
    ]
    packages = workspace.load(tmp_path)
    sessions = sessions_from_listing(listing, packages)
    chosen = [s.name for s in select(["packages/base/src/yoi_base/x.py"], sessions, packages)]
    assert chosen == [
        "tests(base)",
        "mutation(engine)",
        "tests(tools[engine])",
        "llm-server",
        "lint",
    ]


def test_a_path_under_packages_that_is_no_package_runs_everything(
    sessions: list[Session], packages: dict[str, workspace.Package]
) -> None:
    assert select(["packages/removed-package/src/x.py"], sessions, packages) == sessions


def test_a_session_naming_an_unknown_package_or_extra_is_an_error(
    packages: dict[str, workspace.Package],
) -> None:
    with pytest.raises(workspace.WorkspaceError, match="names package 'nope'"):
        sessions_from_listing(
            [{"session": "tests(nope)", "call_spec": {"package": "nope"}}], packages
        )
    unknown_extra = {"session": "t", "call_spec": {"package": "pod-store", "features": ["gpu"]}}
    with pytest.raises(workspace.WorkspaceError, match="pod-store has no extra named gpu"):
        sessions_from_listing([unknown_extra], packages)


def run_affected(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(AFFECTED), *args], capture_output=True, text=True, check=False
    )


def test_the_command_prints_one_session_per_line_or_a_matrix(
    tmp_path: Path, listing: list[dict[str, Any]]
) -> None:
    saved = tmp_path / "sessions.json"
    saved.write_text(json.dumps(listing))
    lines = run_affected("--sessions", str(saved), "packages/session-store/src/x.py")
    assert lines.returncode == 0, lines.stderr
    assert "tests(session-store)" in lines.stdout.splitlines()
    matrix = run_affected("--json", "--sessions", str(saved), "packages/session-store/x.py")
    entries = json.loads(matrix.stdout)
    assert {
        "session": "tests(session-store)",
        "cache-id": "tests-session-store",
        "pyproject": "packages/session-store/pyproject.toml",
    } in entries
    assert {
        "session": "lint",
        "cache-id": "lint",
        "pyproject": "packages/*/pyproject.toml",
    } in entries


def test_bad_arguments_fail_with_the_reason(tmp_path: Path) -> None:
    both = run_affected("--all", "noxfile.py")
    assert both.returncode == 2
    assert "give --all or changed files, not both" in both.stderr
    missing = run_affected("--sessions", str(tmp_path / "absent.json"), "noxfile.py")
    assert missing.returncode == 2
    assert "absent.json" in missing.stderr
    assert missing.stdout == ""
