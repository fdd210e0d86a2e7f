"""The Hypothesis profiles of every yoi package's tests: a pytest plugin, registered once here.

- ``ci``: derandomized, so every run tries the same examples and a red run is replayed by
  running the same test again (with the same Hypothesis version); a failure also prints its
  ``@reproduce_failure`` decorator. No example database and no speed health check: a loaded
  machine is slow, not wrong. Every nox session sets ``YOI_HYPOTHESIS_PROFILE=ci``.
- ``dev`` (the default): a new random seed on every run and five times Hypothesis' default
  number of examples where a test sets none. A failure is kept in the local example database
  (``.hypothesis/``) and tried first on the next run; it also prints its ``@reproduce_failure``.

Neither has a deadline: these tests check behaviour, not speed. A package's ``tests/conftest.py``
loads the plugin with ``pytest_plugins = ["yoi_base.hypothesis_profiles"]``; it needs pytest and
Hypothesis, which only the test environments install (nothing else imports this module).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

#: Names the profile to load: ``ci`` or ``dev``.
PROFILE_ENV = "YOI_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "dev"

# Both start from Hypothesis' built-in ``default`` profile, never from whatever profile is active
# at import: Hypothesis activates its own derandomized ``ci`` profile when ``$CI`` is set, and a
# ``dev`` profile inheriting from that would silently replay the same examples on every run.
_BASE = settings.get_profile("default")

settings.register_profile(
    "ci",
    parent=_BASE,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=300,
)
settings.register_profile(
    "dev", parent=_BASE, derandomize=False, deadline=None, print_blob=True, max_examples=500
)


def _profile_name(config: pytest.Config) -> str:
    given: str | None = config.getoption("hypothesis_profile", None)
    return given or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis' own --hypothesis-profile option, when given, has loaded its profile already.
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile(_profile_name(config))


def pytest_report_header(config: pytest.Config) -> str:
    current = settings.default
    if current is not None and current.derandomize:
        replay = "the same examples on every run: run a failed test again to replay it"
    else:
        replay = "new examples on every run: a failure is tried first on the next run"
    return f"Hypothesis profile {_profile_name(config)!r} (${PROFILE_ENV}): {replay}"
