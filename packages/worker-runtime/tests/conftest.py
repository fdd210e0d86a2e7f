"""Feature selection for the nox matrix: tests marked for a feature run only where it is installed.

``YOI_TEST_FEATURES`` (set by nox) lists the extras installed in this environment. Without it
(a developer's full environment) every feature counts as installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from yoi_worker_runtime.features import FEATURE_MODULES

#: The suite's Hypothesis profiles (``ci`` under nox, ``dev`` otherwise).
pytest_plugins = ["yoi_base.hypothesis_profiles"]


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test, and the servers it starts, away from the real ~/.yoi: an fs store's
    hosting leases live in the runtime dir, so two tests (or two test runs) sharing it would
    see each other's runtime ids as already open."""
    monkeypatch.setenv("YOI_DATA_DIR", str(tmp_path / "default-data"))
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "default-run"))
    for name in ("YOI_STORE", "YOI_POD_STORE", "YOI_SESSION_STORE", "YOI_HOME"):
        monkeypatch.delenv(name, raising=False)


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
