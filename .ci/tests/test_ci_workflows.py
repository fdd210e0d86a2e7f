"""The hosted CI reaches every nox session, and its workflows keep to the project's rules."""

from __future__ import annotations

import re
from typing import Any

import pytest
import workspace
import yaml
from affected import Session, select

WORKFLOWS = workspace.ROOT / ".github" / "workflows"
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")


def load(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return workflow


def run_scripts(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_every_listed_session_is_reachable(
    listing: list[dict[str, Any]], sessions: list[Session], packages: dict[str, workspace.Package]
) -> None:
    # On main every session runs; on a pull request each runs when its own package changes.
    assert [session.name for session in sessions] == [entry["session"] for entry in listing]
    for session in sessions:
        change = session.pyproject.replace("*", next(iter(packages)))
        assert session in select([change], sessions, packages), session.name
    # Each session keeps its own dependency cache.
    assert len({session.cache_id for session in sessions}) == len(sessions)


def test_the_matrix_is_the_plan_of_affected_sessions() -> None:
    jobs = load("ci.yml")["jobs"]
    plan = jobs["plan"]
    planned = plan["outputs"]["matrix"]
    step_id = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.matrix \}\}", planned)
    assert step_id is not None, planned
    (select_step,) = [step for step in plan["steps"] if step.get("id") == step_id[1]]
    script = select_step["run"]
    assert "nox --list --json" in script
    assert re.search(r"\.ci/affected\.py --json .*--all", script)
    assert re.search(r'\.ci/affected\.py --json .*"\$\{changed\[@\]\}"', script)

    (matrix_job,) = [job for job in jobs.values() if "strategy" in job]
    assert matrix_job["needs"] == "plan"
    assert matrix_job["strategy"]["matrix"] == {
        "include": "${{ fromJSON(needs.plan.outputs.matrix) }}"
    }
    (nox_step,) = [step for step in matrix_job["steps"] if "nox -s" in step.get("run", "")]
    assert nox_step["run"] == 'python -m nox -s "$SESSION"'
    assert nox_step["env"] == {"SESSION": "${{ matrix.session }}"}


@pytest.mark.parametrize("name", sorted(path.name for path in WORKFLOWS.glob("*.yml")))
def test_workflows_pin_actions_and_grant_nothing_by_default(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "permissions" in job
        for step in (step for step in job["steps"] if "uses" in step):
            assert PINNED.fullmatch(step["uses"]), step["uses"]
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_matrix_jobs_see_no_secrets() -> None:
    for job in load("ci.yml")["jobs"].values():
        assert "secrets." not in yaml.safe_dump(job)
        assert job["permissions"] in ({}, {"contents": "read"})


def test_only_the_publish_job_gets_an_id_token() -> None:
    jobs = load("release.yml")["jobs"]
    with_token = [name for name, job in jobs.items() if "id-token" in job["permissions"]]
    assert with_token == ["publish"]
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    (uploader,) = publish["steps"][-1:]
    assert uploader["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "with" not in uploader  # no password: trusted publishing
    assert "twine check --strict" in run_scripts(jobs["build"])
    assert ".ci/release_tag.py" in run_scripts(jobs["build"])
