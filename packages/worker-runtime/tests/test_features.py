"""Optional features: the core and the client import none of them, and a missing one fails naming
its extra."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
from yoi_worker_runtime import (
    FeatureNotInstalled,
    Runtime,
    create_http_app,
    feature_installed,
    open_persistent_runtime,
    require_feature,
)

HEAVY_MODULES = (
    "starlette",
    "uvicorn",
    "prometheus_client",
    "anyio",
    "click",
    "yoi_pod_store",
    "yoi_session_store",
    "yoi_worker_runtime.store_backed",
    "yoi_worker_runtime.http_server",
)


@pytest.mark.parametrize("module", ["yoi_worker_runtime", "yoi_worker_runtime.client"])
def test_importing_the_core_or_the_client_loads_no_store_http_or_cli_module(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, check=True, text=True
        ).stdout
    )
    heavy = [
        name for name in loaded if name.split(".")[0] in HEAVY_MODULES or name in HEAVY_MODULES
    ]
    assert heavy == []
    assert "yoi_worker_runtime.runtime" in loaded


def test_an_unknown_feature_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"unknown feature 'gpu'"):
        require_feature("gpu")


@pytest.mark.without_feature("fs-store")
def test_without_fs_store_the_stores_are_absent_and_persistence_names_the_extra() -> None:
    for module in ("yoi_pod_store", "yoi_session_store"):
        with pytest.raises(ImportError):
            importlib.import_module(module)
    assert not feature_installed("fs-store")
    with pytest.raises(
        FeatureNotInstalled, match=r"install yoi-worker-runtime\[fs-store\]$"
    ) as caught:
        open_persistent_runtime("fs:", runtime_id="rt")
    assert caught.value.code == "feature_not_installed"
    assert isinstance(caught.value, ImportError)
    assert "yoi_pod_store, yoi_session_store" in str(caught.value)


@pytest.mark.without_feature("http-server")
def test_without_http_server_starlette_is_absent_and_the_server_names_the_extra() -> None:
    for module in ("starlette", "uvicorn", "prometheus_client"):
        with pytest.raises(ImportError):
            importlib.import_module(module)
    assert not feature_installed("http-server")
    with (
        Runtime.open() as runtime,
        pytest.raises(FeatureNotInstalled, match=r"install yoi-worker-runtime\[http-server\]$"),
    ):
        create_http_app(runtime)


def test_the_message_names_what_is_missing_and_the_extra() -> None:
    error = FeatureNotInstalled("fs-store", ["yoi_pod_store"])
    assert str(error) == (
        "the fs-store feature needs yoi_pod_store, which is not installed: "
        "install yoi-worker-runtime[fs-store]"
    )
