"""Runtimes as real processes on one database, and a checker watching their transcripts.

:class:`Served` starts ``yoi runtime serve`` on a store URL and reads its ready line.
:class:`TranscriptChecker` reads every Worker's transcript from the database in a thread of its
own while the test kills, stops and restarts Runtimes, and records any moment where a
transcript's positions were not dense or where two Runtimes' entries interleaved (one Runtime
writing after another took the Worker over).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from yoi_worker_runtime import RuntimeEvent
from yoi_worker_runtime.client import RuntimeClient

YOI = str(Path(sys.executable).parent / "yoi")
#: Bound of every wait here: far above what a working system needs, on a loaded machine too.
WAIT = 60.0
#: Profiles for the Runtimes: ``slow`` turns run a minute (only a kill or interrupt ends them),
#: ``record`` Workers only record input.
CONFIG = """
default_profile = "record"

[profiles.slow]
engine = "echo"
options = { chunks = 600, chunk_delay_ms = 100 }

[profiles.record]
engine = "none"
"""


class Served:
    """``yoi runtime serve`` on ``store_url`` as runtime ``runtime_id``."""

    def __init__(self, store_url: str, runtime_id: str, config: Path, *flags: str) -> None:
        self.runtime_id = runtime_id
        self.process = subprocess.Popen(
            [
                YOI,
                "runtime",
                "serve",
                "--store",
                store_url,
                "--runtime-id",
                runtime_id,
                "--config",
                str(config),
                "--log-level",
                "warning",
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=WAIT)
            raise AssertionError(f"serve {runtime_id} did not start: {self.stderr()}")
        ready = json.loads(line)
        assert ready["event"] == "ready" and ready["runtime_id"] == runtime_id
        self.url: str = ready["url"]

    def client(self, *, follow_moves: bool = False) -> RuntimeClient:
        return RuntimeClient(self.url, follow_moves=follow_moves)

    def signal(self, number: signal.Signals) -> None:
        os.kill(self.process.pid, number)

    def wait(self) -> int:
        return self.process.wait(timeout=WAIT)

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def write_config(directory: Path) -> Path:
    path = directory / "yoi.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def wait_for_events(
    client: RuntimeClient, wanted: Callable[[list[RuntimeEvent]], bool]
) -> list[RuntimeEvent]:
    """The Runtime's events once ``wanted`` holds for them, by long-polls (no sleeping)."""
    seen: list[RuntimeEvent] = []
    cursor: Any = "start"
    deadline = time.monotonic() + WAIT
    while not wanted(seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the events awaited never came; seen: {[e.kind for e in seen]}"
        batch = client.events(cursor, wait=min(5.0, remaining))
        seen += batch.events
        cursor = batch.cursor
    return seen


def adopted(events: list[RuntimeEvent]) -> set[str]:
    return {e.worker_ref.worker_id for e in events if e.kind == "worker_adopted" and e.worker_ref}


class TranscriptChecker:
    """Reads every Worker's transcript from the database until stopped; ``problems`` says
    where a transcript was seen with a gap in its positions or with Runtimes interleaved."""

    def __init__(self, server_url: str, schema: str) -> None:
        self._server_url, self._schema = server_url, schema
        self.problems: list[str] = []
        self.reads = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="transcript-checker", daemon=True)

    def __enter__(self) -> TranscriptChecker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(WAIT)

    def _run(self) -> None:
        options = f"-c search_path={self._schema}"
        with psycopg.connect(self._server_url, autocommit=True, options=options) as conn:
            while not self._stopping.is_set():
                self.check(conn)
                self.reads += 1
                self._stopping.wait(0.02)  # a sampling interval, not a wait for a condition

    def check(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():  # one snapshot of every table
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            rows = conn.execute(
                "SELECT p.name, e.seq, e.line FROM yoi_pods p JOIN yoi_entries e "
                "ON e.segment_id::text = convert_from(p.body, 'UTF8')::jsonb "
                "#>> '{active,segment_id}' ORDER BY p.name, e.seq"
            ).fetchall()
        by_worker: dict[str, list[tuple[int, bytes]]] = {}
        for name, seq, body in rows:
            by_worker.setdefault(name, []).append((seq, bytes(body)))
        for name, entries in by_worker.items():
            self._check_one(name, entries)

    def _check_one(self, name: str, entries: list[tuple[int, bytes]]) -> None:
        positions = [seq for seq, _ in entries]
        if positions != list(range(positions[0], positions[0] + len(positions))):
            self.problems.append(f"{name}: positions not dense: {positions}")
        writers: list[str] = []
        for _, body in entries:
            marker = json.loads(body).get("yoi_runtime")
            if isinstance(marker, dict) and isinstance(marker.get("runtime_id"), str):
                runtime_id = marker["runtime_id"]
                if not writers or writers[-1] != runtime_id:
                    writers.append(runtime_id)
        if len(writers) != len(set(writers)):
            self.problems.append(f"{name}: Runtimes interleaved: {writers}")


class Acks:
    """Acknowledged inputs by Worker, as (transcript sequence, content), from several threads."""

    def __init__(self) -> None:
        self._found: dict[str, set[tuple[int, str]]] = {}
        self._changed = threading.Condition()

    def add(self, worker_id: str, sequence: int, content: str) -> None:
        with self._changed:
            self._found.setdefault(worker_id, set()).add((sequence, content))
            self._changed.notify_all()

    def of(self, worker_id: str) -> set[tuple[int, str]]:
        with self._changed:
            return set(self._found.get(worker_id, ()))

    def wait_for(self, total: int) -> None:
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(len(found) for found in self._found.values()) >= total, WAIT
            )
        assert done, "the senders made no progress"


def send_inputs(client: RuntimeClient, worker_id: str, stop: threading.Event, acks: Acks) -> None:
    """Send inputs to ``worker_id`` until ``stop`` or the Runtime goes away; each acknowledged
    one is added to ``acks``."""
    n = 0
    with client:
        while not stop.is_set():
            n += 1
            content = f"{worker_id} input {n}"
            try:
                ack = client.send_input(worker_id, content)
            except Exception:  # the Runtime died or was fenced: no acknowledgement
                return
            acks.add(worker_id, ack.transcript_sequence, content)
