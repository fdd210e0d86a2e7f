"""A real ``yoi`` REST server process whose Workers' turns run on the openai engine."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue

from yoi_worker_runtime.client import RuntimeClient

#: Seconds the server may take to open its store and print its ready line.
READY_BOUND = 60.0

PROFILES = """
default_profile = "local"
allow_tools = ["read_file"]

[profiles.local]
engine = "openai"
base_url = "{url}"
model = "smollm2"
temperature = 0
max_output_tokens = 40
timeout = 60

[profiles.long]
engine = "openai"
base_url = "{url}"
model = "smollm2"
temperature = 0
max_output_tokens = 400
timeout = 60

[profiles.reader]
engine = "openai"
base_url = "{url}"
model = "smollm2"
temperature = 0
max_output_tokens = 40
timeout = 60
options = {{ tool_choice = {{ type = "function", function = {{ name = "read_file" }} }} }}
"""


class YoiServer:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def client(self) -> RuntimeClient:
        return RuntimeClient(self.url, timeout=60)

    def kill(self) -> None:
        """SIGKILL: the Runtime dies mid-whatever, as in a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def write_config(directory: Path, llama_url: str) -> Path:
    path = directory / "yoi.toml"
    path.write_text(PROFILES.format(url=llama_url))
    return path


@contextlib.contextmanager
def yoi_server(
    directory: Path, llama_url: str, *, bind: str = "127.0.0.1:0"
) -> Iterator[YoiServer]:
    """``python -m yoi_worker_runtime.http_server`` on an fs store under ``directory``."""
    command = [
        sys.executable,
        "-m",
        "yoi_worker_runtime.http_server",
        "--store",
        f"fs://{directory / 'data'}",
        "--runtime-id",
        "rt-llm",
        "--bind",
        bind,
        "--config",
        str(write_config(directory, llama_url)),
        "--workspace-root",
        str(directory / "workspaces"),
    ]
    env = {**os.environ, "YOI_RUNTIME_DIR": str(directory / "run")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    lines: Queue[str] = Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=READY_BOUND)
    except Empty:
        process.kill()
        raise AssertionError("the yoi server printed no ready line") from None
    if not line:
        process.wait(timeout=10)
        raise AssertionError(
            f"the yoi server exited: {process.stderr.read() if process.stderr else ''}"
        )
    server = YoiServer(process, json.loads(line)["url"])
    try:
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
