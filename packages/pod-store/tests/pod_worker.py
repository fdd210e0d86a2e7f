"""Helper process for the crash, concurrency and liveness tests.

Usage: ``python pod_worker.py MODE DATA_DIR RUNTIME_DIR [ARGS...]``. Modes print ``ready`` on
stdout once they reach the state the test waits for.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
from pathlib import Path

import attrs
from yoi_pod_store.backends.fs import FsPodStore
from yoi_pod_store.model import PodRecord


def _count(record: PodRecord | None) -> int:
    snapshot = record.resolved_manifest_snapshot if record else None
    return int(snapshot["count"]) if isinstance(snapshot, dict) else 0


def increment(store: FsPodStore, name: str, times: int) -> None:
    """Add 1 to the record's counter ``times`` times, each as a locked read-modify-write."""
    for _ in range(times):
        store.update(
            name,
            lambda current: attrs.evolve(
                current or PodRecord(name),
                resolved_manifest_snapshot={"count": _count(current) + 1, "pid": os.getpid()},
            ),
        )


def write_forever(store: FsPodStore, name: str) -> None:
    """Rewrite the record with a growing payload until killed."""
    ready = False
    generation = 0
    while True:
        generation += 1
        store.write(
            PodRecord(
                name,
                resolved_manifest_snapshot={
                    "generation": generation,
                    "pad": "x" * (generation % 5000),
                },
            )
        )
        if not ready:
            print("ready", flush=True)
            ready = True


def hold_lock(store: FsPodStore, name: str) -> None:
    """Take the per-name lock of ``name`` and hold it until killed."""
    with store.locked(name):
        print("ready", flush=True)
        _live_until_killed()


def host(store: FsPodStore, runtime_id: str, pods: list[str]) -> None:
    """Open a lease, claim the Pods and live until killed."""
    lease = store.host(runtime_id)
    for pod in pods:
        lease.claim(pod)
    print("ready", flush=True)
    _live_until_killed()


def lock_only(store: FsPodStore, runtime_id: str) -> None:
    """A host caught between taking its lease lock and binding its socket."""
    lease_dir = store.lease_dir(runtime_id)
    lease_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(lease_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("ready", flush=True)
    _live_until_killed()


def _live_until_killed() -> None:
    while True:
        signal.pause()


def main(argv: list[str]) -> None:
    mode, data_dir, runtime_dir, *args = argv
    store = FsPodStore(Path(data_dir), Path(runtime_dir))
    if mode == "increment":
        print("ready", flush=True)
        increment(store, args[0], int(args[1]))
    elif mode == "write-forever":
        write_forever(store, args[0])
    elif mode == "hold-lock":
        hold_lock(store, args[0])
    elif mode == "host":
        host(store, args[0], args[1:])
    elif mode == "lock-only":
        lock_only(store, args[0])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
