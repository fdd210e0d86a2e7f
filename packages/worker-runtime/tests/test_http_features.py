"""The server module names its extra when starlette is absent; error bodies hide paths.

(That the client needs no extra is checked with the core in test_features.py.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from yoi_worker_runtime import FeatureNotInstalled


@pytest.mark.without_feature("http-server")
def test_importing_the_server_without_the_extra_names_it() -> None:
    with pytest.raises(FeatureNotInstalled, match=r"install yoi-worker-runtime\[http-server\]$"):
        import yoi_worker_runtime.http_server  # noqa: F401
    result = subprocess.run(
        [sys.executable, "-m", "yoi_worker_runtime.http_server", "--store", "memory"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "install yoi-worker-runtime[http-server]" in result.stderr


@pytest.mark.feature("http-server")
def test_store_error_messages_lose_their_absolute_paths() -> None:
    from yoi_worker_runtime.errors import StoreIo, hide_absolute_paths
    from yoi_worker_runtime.http_server.errors import ApiError

    error = ApiError.from_runtime(StoreIo("cannot write /home/me/.yoi/pods/w1/metadata.json"))
    assert error.status == 500 and error.code == "store_io"
    assert error.message == "store I/O failed: cannot write <path>"
    assert hide_absolute_paths("pods/w1/metadata.json is torn") == "pods/w1/metadata.json is torn"
    assert "/srv" not in hide_absolute_paths("see '/srv/data/x' and C:\\data\\x")
