"""The suite's Hypothesis profiles: ``ci`` replays the same examples, ``dev`` draws new ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yoi_base.hypothesis_profiles  # noqa: F401 (registers the profiles)
from hypothesis import HealthCheck, settings

PROPERTY = """
from hypothesis import given, strategies as st

@given(st.integers())
def test_record_examples(n):
    with open("drawn.txt", "a") as out:
        out.write(f"{n}\\n")
"""


def drawn_examples(
    directory: Path, profile: str, ci_variable: str | None = None
) -> tuple[list[str], str]:
    """Run a one-property suite under ``profile``; the examples it drew and pytest's header.

    ``ci_variable`` sets ``$CI`` (which makes Hypothesis activate its own ``ci`` profile) or,
    when None, removes it, so a test sees the same behaviour on a laptop and on a CI runner.
    """
    (directory / "conftest.py").write_text('pytest_plugins = ["yoi_base.hypothesis_profiles"]\n')
    (directory / "test_property.py").write_text(PROPERTY)
    drawn = directory / "drawn.txt"
    drawn.unlink(missing_ok=True)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_property.py"],
        cwd=directory,
        env=environment(profile, ci_variable),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return drawn.read_text().splitlines(), run.stdout


def environment(profile: str, ci_variable: str | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    if ci_variable is not None:
        env["CI"] = ci_variable
    return {**env, "YOI_HYPOTHESIS_PROFILE": profile}


def test_the_ci_profile_draws_the_same_examples_on_every_run(tmp_path: Path) -> None:
    first, header = drawn_examples(tmp_path, "ci")
    again, _ = drawn_examples(tmp_path, "ci")
    assert first == again and len(set(first)) > 100
    assert "Hypothesis profile 'ci' ($YOI_HYPOTHESIS_PROFILE): the same examples" in header


@pytest.mark.parametrize("ci_variable", [None, "true"], ids=["no-CI-variable", "CI=true"])
def test_the_dev_profile_draws_new_and_more_examples_each_run(
    tmp_path: Path, ci_variable: str | None
) -> None:
    first, header = drawn_examples(tmp_path, "dev", ci_variable)
    again, _ = drawn_examples(tmp_path, "dev", ci_variable)
    assert first != again
    ci, _ = drawn_examples(tmp_path, "ci")
    assert len(set(first)) > len(set(ci))
    assert "Hypothesis profile 'dev' ($YOI_HYPOTHESIS_PROFILE): new examples" in header


@pytest.mark.parametrize("profile", ["ci", "dev"])
def test_no_profile_has_a_deadline_or_fails_a_slow_machine(profile: str) -> None:
    chosen = settings.get_profile(profile)
    assert chosen.deadline is None
    assert profile == "dev" or HealthCheck.too_slow in chosen.suppress_health_check
