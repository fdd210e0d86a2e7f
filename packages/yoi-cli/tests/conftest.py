"""Feature selection for the nox matrix: tests marked for a feature run only where it is installed.

``YOI_TEST_FEATURES`` (set by nox) lists the extras installed in this environment. Without it
(a developer's full environment) every feature counts as installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

FEATURE_MODULES = {
    "runtime": ("yoi_worker_runtime", "starlette", "uvicorn"),
}


def installed_features() -> set[str]:
    declared = os.environ.get("YOI_TEST_FEATURES")
    if declared is None:
        return set(FEATURE_MODULES)
    return {feature for feature in declared.split(",") if feature}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "feature(name): needs the named extra installed")
    config.addinivalue_line("markers", "without_feature(name): runs only where the extra is absent")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    features = installed_features()
    for item in items:
        for marker in item.iter_markers("feature"):
            if marker.args[0] not in features:
                item.add_marker(pytest.mark.skip(reason=f"runs in the {marker.args[0]} session"))
        for marker in item.iter_markers("without_feature"):
            if marker.args[0] in features:
                item.add_marker(
                    pytest.mark.skip(reason=f"runs in the session without {marker.args[0]}")
                )


YOI = str(Path(sys.executable).with_name("yoi"))


@dataclass(frozen=True)
class YoiResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class YoiRunner(Protocol):
    def __call__(self, *args: str, env: dict[str, str] | None = None) -> YoiResult: ...


@pytest.fixture
def yoi_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose data and runtime dirs are private to the test."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("YOI_") or key == "YOI_TEST_FEATURES"
    }
    env["YOI_DATA_DIR"] = str(tmp_path / "data")
    env["YOI_RUNTIME_DIR"] = str(tmp_path / "run")
    return env


@pytest.fixture
def data(yoi_env: dict[str, str]) -> Path:
    """The test's data dir (``YOI_DATA_DIR`` of ``yoi_env``)."""
    return Path(yoi_env["YOI_DATA_DIR"])


@pytest.fixture
def run(yoi_env: dict[str, str]) -> Path:
    """The test's runtime dir (``YOI_RUNTIME_DIR`` of ``yoi_env``)."""
    return Path(yoi_env["YOI_RUNTIME_DIR"])


@pytest.fixture
def yoi(yoi_env: dict[str, str]) -> YoiRunner:
    """Run the installed ``yoi`` console script as a real subprocess."""

    def run(*args: str, env: dict[str, str] | None = None) -> YoiResult:
        completed = subprocess.run(
            [YOI, *args],
            env={**yoi_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return YoiResult(completed.returncode, completed.stdout, completed.stderr)

    return run
