"""Real processes against the fs backend: lost updates, torn reads, crashes mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from yoi_pod_store.backends.fs import FsPodStore
from yoi_pod_store.errors import PodLockTimeout
from yoi_pod_store.model import PodRecord, decode_pod_record

WORKER = Path(__file__).with_name("pod_worker.py")


def spawn(store: FsPodStore, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            args[0],
            str(store.data_dir),
            str(store.runtime_dir),
            *args[1:],
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_two_processes_doing_1000_updates_each_lose_none(
    store: FsPodStore, processes: list[subprocess.Popen[str]]
) -> None:
    store.write(PodRecord("counter", resolved_manifest_snapshot={"count": 0}))
    processes += [spawn(store, "increment", "counter", "1000") for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=120) == 0
    record = store.read("counter")
    assert record is not None
    assert record.resolved_manifest_snapshot["count"] == 2000


def test_reader_never_sees_partial_json_while_a_writer_loops(
    store: FsPodStore, processes: list[subprocess.Popen[str]]
) -> None:
    store.write(PodRecord("busy", resolved_manifest_snapshot={"generation": 0}))
    processes.append(spawn(store, "write-forever", "busy"))
    path = store.pod_path("busy")
    generations: set[int] = set()
    deadline = time.monotonic() + 60
    reads = 0
    # Read until the writer has made progress under our reads, however slow the machine.
    while reads <= 100 or len(generations) <= 10:
        assert time.monotonic() < deadline, "the writer should have made progress while we read"
        # Both the store's read and a plain open of the file see whole records only.
        record = store.read("busy")
        assert record is not None
        generations.add(record.resolved_manifest_snapshot["generation"])
        json.loads(path.read_bytes())
        reads += 1


@pytest.mark.parametrize("generation", [2, 30, 300])
def test_writer_killed_mid_write_leaves_old_or_new_record(
    store: FsPodStore, processes: list[subprocess.Popen[str]], generation: int
) -> None:
    store.write(PodRecord("victim", resolved_manifest_snapshot={"generation": 0}))
    process = spawn(store, "write-forever", "victim")
    processes.append(process)
    wait_for_generation(store, "victim", generation)  # then kill it as it writes the next
    process.send_signal(signal.SIGKILL)
    process.wait()
    record = store.read("victim")
    assert record is not None and record.pod_name == "victim"
    assert record.resolved_manifest_snapshot["generation"] >= generation
    # The file on disk is a complete record, and the next locked update works normally.
    decode_pod_record(store.pod_path("victim").read_bytes())
    store.update("victim", lambda current: current)
    listed = store.list_pods()
    assert [item.name for item in listed] == ["victim"] and listed[0].ok
    # Leftover temp files from the killed writer are removed by a delete.
    store.delete("victim")
    assert not (store.data_dir / "pods" / "victim").exists()


def test_lock_is_released_when_its_holder_is_killed(
    store: FsPodStore, processes: list[subprocess.Popen[str]]
) -> None:
    process = spawn(store, "hold-lock", "counter")  # "ready" once it holds the lock
    processes.append(process)
    impatient = FsPodStore(store.data_dir, store.runtime_dir, lock_timeout=0)
    with pytest.raises(PodLockTimeout):
        impatient.update("counter", lambda current: current or PodRecord("counter"))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Not a wait for the lock: the first try gets it, as the kernel released it with the process.
    updated = impatient.update("counter", lambda current: current or PodRecord("counter"))
    assert updated is not None and updated.pod_name == "counter"


def wait_for_generation(store: FsPodStore, name: str, generation: int) -> None:
    """Poll the record until its writer has reached ``generation`` (or fail after 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        record = store.read(name)
        assert record is not None
        if record.resolved_manifest_snapshot["generation"] >= generation:
            return
        assert time.monotonic() < deadline, f"the writer never reached generation {generation}"
