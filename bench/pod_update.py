"""Locked read-modify-write updates per second, against an unlocked durable rewrite baseline.

Measures ``FsPodStore.update`` (per-name flock, read, validate, atomic write with fsync of the
file and the directory) on one record and round-robin across 100 records. The baseline does
the same durable file dance (read JSON, temp file, fsync, rename, directory fsync) without the
lock, the symlink-safe walk and the typed record, in the same run.
Run: ``python bench/pod_update.py [--updates N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from yoi_pod_store.backends.fs import FsPodStore
from yoi_pod_store.model import PodRecord


def bump(current: PodRecord | None) -> PodRecord:
    record = current or PodRecord("unnamed")
    count = record.resolved_manifest_snapshot or 0
    return attrs.evolve(record, resolved_manifest_snapshot=count + 1)


def baseline_update(path: Path) -> None:
    body = json.loads(path.read_bytes())
    body["resolved_manifest_snapshot"] = (body.get("resolved_manifest_snapshot") or 0) + 1
    temp = path.with_name(".metadata.json.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(body, indent=2) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    temp.rename(path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def rate(updates: int, fn: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for index in range(updates):
        fn(index)
    return updates / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yoi-bench-") as tmp:
        store = FsPodStore(Path(tmp) / "data", Path(tmp) / "run")
        names = [f"pod-{index:03d}" for index in range(100)]
        for name in names:
            store.write(PodRecord(name, resolved_manifest_snapshot=0))
        paths = [store.pod_path(name) for name in names]

        results = {
            "one record": (
                rate(args.updates, lambda i: baseline_update(paths[0])),
                rate(args.updates, lambda i: store.update(names[0], bump)),
            ),
            "100 records": (
                rate(args.updates, lambda i: baseline_update(paths[i % 100])),
                rate(args.updates, lambda i: store.update(names[i % 100], bump)),
            ),
        }
        record = store.read(names[0])
        assert record is not None
        # pod-000 was bumped by both the baseline and the store in both rounds.
        assert record.resolved_manifest_snapshot == 2 * (args.updates + args.updates // 100)
    for label, (base, ours) in results.items():
        print(
            f"pod_update: {label:<11}  baseline {base:8.0f}/s   FsPodStore.update {ours:8.0f}/s"
            f"   ratio {base / ours:.2f}x slower"
        )


if __name__ == "__main__":
    main()
