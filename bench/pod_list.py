"""Listing and reading every Pod against a bare ``os.scandir`` + ``json.load``, in the same run.

Goal: ``FsPodStore.list_pods()`` over 10,000 Pods at most 2x the baseline. The baseline reads
the very same files with no validation, no symlink checks and no typed records.
Run: ``python bench/pod_list.py [--pods N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yoi_pod_store.backends.fs import FsPodStore
from yoi_pod_store.model import ActivePointer, Peer, PodRecord, utc_now

GOAL_RATIO = 2.0


def populate(store: FsPodStore, count: int) -> None:
    now = utc_now()
    for index in range(count):
        store.write(
            PodRecord(
                f"pod-{index:05d}",
                active=ActivePointer(f"0192f0a0-0000-7000-8000-{index:012x}"),
                workspace_root=f"/work/project-{index % 50}",
                peers=(Peer("coordinator"),),
                resolved_manifest_snapshot={"profile": "default", "tools": ["read", "write"]},
                hosting_runtime_id="rt-bench",
                created_at=now,
                last_activity_at=now,
            )
        )


def baseline(pods_dir: Path) -> list[Any]:
    records = []
    with os.scandir(pods_dir) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            with open(f"{entry.path}/metadata.json", "rb") as handle:
                records.append(json.load(handle))
    return records


def best_of(rounds: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yoi-bench-") as tmp:
        store = FsPodStore(Path(tmp) / "data", Path(tmp) / "run")
        start = time.perf_counter()
        populate(store, args.pods)
        print(f"pod_list: wrote {args.pods} Pods in {time.perf_counter() - start:.2f} s")
        listed = store.list_pods()
        assert len(listed) == args.pods and all(item.ok for item in listed)
        assert len(baseline(store.data_dir / "pods")) == args.pods
        base = best_of(args.rounds, lambda: baseline(store.data_dir / "pods"))
        ours = best_of(args.rounds, store.list_pods)
    ratio = ours / base
    print(f"pod_list: baseline os.scandir + json.load  {base * 1000:8.1f} ms")
    print(f"pod_list: FsPodStore.list_pods()           {ours * 1000:8.1f} ms")
    verdict = "within" if ratio <= GOAL_RATIO else "OVER"
    print(
        f"pod_list: ratio {ratio:.2f}x ({verdict} the {GOAL_RATIO:.0f}x goal, "
        f"best of {args.rounds})"
    )


if __name__ == "__main__":
    main()
