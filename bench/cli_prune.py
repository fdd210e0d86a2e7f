"""``yoi session prune --unreferenced --dry-run`` over many Pods and sessions.

Builds a data dir with 10,000 Pods (each pointing at one session) and a growing number of
sessions (5,000 up to 50,000, all older than the grace period), written directly in the
documented on-disk formats. For each size it times the installed ``yoi`` (a real subprocess,
startup included) against a baseline in the same run: an ``os.scandir`` walk that stats every
Pod metadata file and every session file of the same tree. Prints the ratio and the growth.

    python bench/cli_prune.py            # 5k, 10k, 20k, 50k sessions
    python bench/cli_prune.py --quick    # 1k, 5k sessions, 2,000 Pods
"""

# The baseline walks str paths, the cheapest way to stat a tree.
# ruff: noqa: PTH116, PTH118

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

YOI = str(Path(sys.executable).with_name("yoi"))
OLD_SECONDS = 40 * 86400


def _segment_line(session: str) -> bytes:
    start = {
        "kind": "segment_start",
        "ts": 1_700_000_000_000,
        "session_id": session,
        "system_prompt": "You are helpful.",
        "config": {},
        "history": [],
        "schema_version": 1,
    }
    return json.dumps(start, separators=(",", ":")).encode() + b"\n"


def add_sessions(data: Path, ids: list[str]) -> None:
    sessions_dir = data / "sessions"
    sessions_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.time() - OLD_SECONDS
    for session in ids:
        segment = str(uuid.uuid4())
        directory = sessions_dir / session
        directory.mkdir(mode=0o700)
        path = directory / f"{segment}.jsonl"
        path.write_bytes(_segment_line(session))
        os.utime(path, (stamp, stamp))
        os.utime(directory, (stamp, stamp))


def add_pods(data: Path, sessions: list[str]) -> None:
    pods_dir = data / "pods"
    for index, session in enumerate(sessions):
        name = f"pod-{index:05d}"
        record = {
            "schema_version": 1,
            "pod_name": name,
            "active": {"session_id": session},
            "worker_status": "stopped",
            "created_at": "2025-01-02T03:04:05.123456Z",
        }
        directory = pods_dir / name
        directory.mkdir(parents=True, mode=0o700)
        (directory / "metadata.json").write_text(json.dumps(record, indent=2) + "\n")


def run_yoi(data: Path, run: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOI_")}
    env.update(YOI_DATA_DIR=str(data), YOI_RUNTIME_DIR=str(run))
    started = time.perf_counter()
    completed = subprocess.run(
        [YOI, "session", "prune", "--unreferenced", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"yoi failed ({completed.returncode}): {completed.stderr}")
    return elapsed, completed.stdout.splitlines()[-2]


def scandir_walk(data: Path) -> int:
    """The baseline: stat every Pod record and every session file."""
    count = 0
    with os.scandir(data / "pods") as pods:
        for pod in pods:
            if pod.is_dir(follow_symlinks=False):
                os.stat(os.path.join(pod.path, "metadata.json"), follow_symlinks=False)
                count += 1
    with os.scandir(data / "sessions") as sessions:
        for session in sessions:
            if not session.is_dir(follow_symlinks=False):
                continue
            session.stat(follow_symlinks=False)
            with os.scandir(session.path) as files:
                for file in files:
                    file.stat(follow_symlinks=False)
                    count += 1
    return count


def best_of(repeats: int, fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    pods = 2_000 if args.quick else 10_000
    sizes = [1_000, 5_000] if args.quick else [5_000, 10_000, 20_000, 50_000]
    root = Path(tempfile.mkdtemp(prefix="yoi-bench-prune-"))
    try:
        data, run = root / "data", root / "run"
        started = time.perf_counter()
        # Pods point at the first sessions; while fewer sessions exist, some pointers dangle.
        ids = [str(uuid.uuid4()) for _ in range(sizes[-1])]
        add_pods(data, ids[:pods])
        created = 0
        print(f"# {pods} Pods, sessions older than the grace period; best of 3 runs")
        print(f"{'sessions':>9} {'yoi s':>8} {'scandir s':>10} {'ratio':>6}  summary")
        results = []
        for size in sizes:
            add_sessions(data, ids[created:size])
            created = size
            yoi_seconds = min(run_yoi(data, run)[0] for _ in range(3))
            _, summary = run_yoi(data, run)
            walk_seconds = best_of(3, lambda: scandir_walk(data))
            ratio = yoi_seconds / walk_seconds
            results.append((size, yoi_seconds))
            print(f"{size:>9} {yoi_seconds:>8.3f} {walk_seconds:>10.3f} {ratio:>6.1f}  {summary}")
        (first_size, first_time), (last_size, last_time) = results[0], results[-1]
        print(
            f"growth: {last_size / first_size:.0f}x sessions -> {last_time / first_time:.1f}x time "
            f"({(last_time - first_time) / (last_size - first_size) * 1e6:.1f} us per extra "
            f"session); setup {time.perf_counter() - started:.1f} s in total"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
