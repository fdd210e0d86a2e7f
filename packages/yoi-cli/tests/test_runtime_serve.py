"""``yoi runtime serve``: the ready line, flags, graceful stop, persistence across restarts."""

from __future__ import annotations

import importlib
import json
import queue
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import YOI, YoiRunner


@contextmanager
def serving(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[str], Any]]:
    """``yoi runtime serve ARGS`` as a real process; yields it and its parsed ready line."""
    process = subprocess.Popen(
        [YOI, "runtime", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=30)
        assert line, process.stderr.read() if process.stderr else ""
        yield process, json.loads(line)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test URL
        return json.loads(response.read())


@pytest.mark.feature("runtime")
def test_serve_prints_one_ready_line_and_stops_cleanly_on_sigterm(
    yoi_env: dict[str, str], tmp_path: Path
) -> None:
    ready_file = tmp_path / "ready.json"
    with serving(
        yoi_env,
        "--store",
        "memory",
        "--runtime-id",
        "rt-cli",
        "--display-name",
        "cli test",
        "--max-transcript-projection-items",
        "7",
        "--ready-file",
        str(ready_file),
    ) as (process, ready):
        assert ready["event"] == "ready" and ready["runtime_id"] == "rt-cli"
        assert ready["url"].startswith("http://127.0.0.1:") and ready["pid"] == process.pid
        assert json.loads(ready_file.read_text(encoding="utf-8")) == ready
        summary = _get(ready["url"] + "/v1/runtime")["runtime"]
        assert summary["display_name"] == "cli test"
        assert summary["limits"]["max_transcript_projection_items"] == 7
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stdout is not None
        assert process.stdout.read() == ""  # exactly one line on stdout
    assert not ready_file.exists()


@pytest.mark.feature("runtime")
def test_serve_usage_errors_exit_2(yoi: YoiRunner) -> None:
    result = yoi("runtime", "serve", "--store", "memory", "--bind", "nonsense")
    assert result.exit_code == 2
    assert "--bind must be HOST:PORT" in result.stderr
    result = yoi("runtime", "serve", "--store", "memory", "--local-token-env", "YOI_NO_SUCH_VAR")
    assert result.exit_code == 2
    assert "YOI_NO_SUCH_VAR is not set or empty" in result.stderr
    assert "--local-token-file" in yoi("runtime", "serve", "--help").stdout


@pytest.mark.feature("runtime")
def test_serve_on_the_default_fs_store_keeps_workers_across_restarts(
    yoi: YoiRunner, yoi_env: dict[str, str]
) -> None:
    args = ("--runtime-id", "rt-fs")  # no --store: the fs store under YOI_DATA_DIR
    with serving(yoi_env, *args) as (process, ready):
        env = {"YOI_RUNTIME_URL": ready["url"]}
        assert yoi("worker", "create", "--name", "kept", "--task", "x", env=env).exit_code == 0
        assert yoi("worker", "input", "kept", "remember me", "--wait", env=env).exit_code == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert (Path(yoi_env["YOI_DATA_DIR"]) / "pods" / "kept").is_dir()
    with serving(yoi_env, *args) as (_, ready):
        env = {"YOI_RUNTIME_URL": ready["url"]}
        page = yoi("worker", "transcript", "kept", "--json", env=env).json()
        contents = [item["content"] for item in page["items"]]
        assert contents == ["remember me", "echo: remember me"]


@pytest.mark.without_feature("runtime")
def test_without_the_extra_runtime_commands_name_what_to_install(yoi: YoiRunner) -> None:
    for module in ("yoi_worker_runtime", "starlette", "uvicorn"):
        with pytest.raises(ImportError):
            importlib.import_module(module)
    for args in (("runtime", "serve"), ("worker", "--url", "http://127.0.0.1:1", "list")):
        result = yoi(*args)
        assert result.exit_code == 1, result.stderr
        assert "yoi-cli[runtime]" in result.stderr
        assert "Traceback" not in result.stderr


#: The Runtime's core, importable without its extras (starlette, uvicorn, the stores).
RUNTIME_CORE = Path(__file__).parents[2] / "worker-runtime" / "src"


@pytest.mark.without_feature("runtime")
def test_with_the_runtime_core_alone_serve_names_what_to_install_and_worker_runs(
    yoi: YoiRunner, yoi_env: dict[str, str]
) -> None:
    env = {"PYTHONPATH": str(RUNTIME_CORE)}
    core = "import yoi_worker_runtime.client; import starlette"
    probe = subprocess.run(
        [sys.executable, "-c", core], env={**yoi_env, **env}, capture_output=True, text=True
    )
    assert "No module named 'starlette'" in probe.stderr  # the core imports, the server's not
    result = yoi("runtime", "serve", "--store", "memory", env=env)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "needs the http-server feature of yoi-worker-runtime" in result.stderr
    assert "pip install 'yoi-cli[runtime]'" in result.stderr
    assert "Traceback" not in result.stderr
    # yoi worker needs only the core and its client: it goes as far as the (absent) server.
    result = yoi("worker", "--url", "http://127.0.0.1:1", "list", env=env)
    assert result.exit_code == 1
    assert "cannot reach the Runtime" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.feature("runtime")
def test_serve_logs_flags_reach_the_server(yoi_env: dict[str, str]) -> None:
    args = ("--store", "memory", "--log-format", "json", "--access-log", "--header-timeout", "2")
    with serving(yoi_env, *args) as (process, ready):
        url, headers = ready["url"] + "/v1/ready", {"X-Request-ID": "cli-check"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback test URL
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.headers["X-Request-ID"] == "cli-check"
            assert json.loads(response.read()) == {"status": "ready"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None
        lines = [json.loads(line) for line in process.stderr.read().splitlines()]
    access = [line for line in lines if line.get("request_id") == "cli-check"]
    assert access and access[0]["route"] == "/v1/ready" and access[0]["status"] == 200


@pytest.mark.feature("runtime")
def test_serve_refuses_limits_over_the_documented_maxima(yoi: YoiRunner) -> None:
    result = yoi("runtime", "serve", "--store", "memory", "--max-event-batch-items", "1001")
    assert result.exit_code == 2
    assert "1001 is not in the range 1<=x<=1000" in result.stderr
