"""PostgreSQL stores vs the fs backend: append throughput and ``yoi session prune --dry-run``.

Starts a throwaway PostgreSQL cluster (Debian's server binaries; as ``nobody`` under root), or
uses ``$YOI_TEST_POSTGRES_URL``. Appends: W writer threads (1, 4, 16), each appending to its own
segment, both backends with their default durability (fs: fsync per entry; PostgreSQL:
synchronous commit). Prune: ``yoi session prune --unreferenced --dry-run`` run as a command
over N sessions (default 5,000; ``--sessions 50000`` for the full size), a few referenced by Pods.

    python bench/postgres_stores.py [--sessions N] [--appends N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from yoi_pod_store.model import ActivePointer
from yoi_pod_store.plugins import open_pod_store
from yoi_session_store.contract import SessionStore
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id
from yoi_session_store.model import Extension, RequestConfig, SegmentStart
from yoi_session_store.plugins import open_session_store


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    given = os.environ.get("YOI_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bin_dir = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent
    root = Path(tempfile.mkdtemp(prefix="yoi-pg-bench-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody", "nogroup")
        as_user = ["runuser", "-u", "nobody", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "yoi"],
        check=True,
        capture_output=True,
    )
    ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    subprocess.run(
        [*ctl, "-l", str(root / "log"), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://yoi@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _start(session: SessionId) -> SegmentStart:
    return SegmentStart(
        ts=1, session_id=session, system_prompt="bench", config=RequestConfig(), history=()
    )


def append_rate(store: SessionStore, writers: int, total: int) -> float:
    """Appends per second with ``writers`` threads, each on its own segment."""
    targets: list[tuple[SessionId, SegmentId]] = []
    for _ in range(writers):
        session, segment = new_session_id(), new_segment_id()
        store.create_segment(session, segment, [_start(session)])
        targets.append((session, segment))
    per_writer = max(total // writers, 1)
    barrier = threading.Barrier(writers + 1)

    def write(target: tuple[SessionId, SegmentId]) -> None:
        barrier.wait()
        for i in range(per_writer):
            store.append(*target, Extension(i, "bench", {"i": i, "text": "x" * 200}))

    threads = [threading.Thread(target=write, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return per_writer * writers / (time.perf_counter() - started)


def populate(session_url: str, pod_url: str, count: int) -> None:
    store = open_session_store(session_url)

    def create(_: int) -> SessionId:
        session = new_session_id()
        store.create_segment(
            session, new_segment_id(), [_start(session), Extension(1, "bench", {"n": 1})]
        )
        return session

    with ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(create, range(count)))
    store.close()
    pods = open_pod_store(pod_url)
    for n, session in enumerate(sessions[:20]):
        pods.set_active(f"pod-{n}", ActivePointer(session))
    pods.close()


def prune_seconds(url: str) -> float:
    yoi = str(Path(sys.executable).parent / "yoi")
    command = [yoi, "session", "--store", url, "prune", "--unreferenced", "--dry-run"]
    started = time.perf_counter()
    result = subprocess.run([*command, "--grace", "1s"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"prune failed: {result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--appends", type=int, default=1600, help="appends per configuration")
    args = parser.parse_args()
    with postgres() as server, tempfile.TemporaryDirectory() as tmp:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        pg_url = f"{server}?schema={schema}&pool_size=20"
        fs_url = f"fs://{tmp}/data"
        print(f"append throughput ({args.appends} appends of ~250 bytes per configuration)")
        for writers in (1, 4, 16):
            rates = {}
            for name, url in (("fs", fs_url), ("postgresql", pg_url)):
                store = open_session_store(url)
                rates[name] = append_rate(store, writers, args.appends)
                store.close()
            print(
                f"  {writers:2d} writers: fs {rates['fs']:8.0f}/s  postgresql "
                f"{rates['postgresql']:8.0f}/s  ratio pg/fs {rates['postgresql'] / rates['fs']:.2f}"
            )
        prune_pg = f"{server}?schema={schema}_prune"
        prune_fs = f"fs://{tmp}/prune"
        started = time.perf_counter()
        populate(prune_pg, prune_pg, args.sessions)
        populate(f"{prune_fs}?fsync=never", prune_fs, args.sessions)
        print(f"populated 2 x {args.sessions} sessions in {time.perf_counter() - started:.1f} s")
        time.sleep(1.1)  # past the 1 s grace period
        fs_time, pg_time = prune_seconds(prune_fs), prune_seconds(prune_pg)
        print(
            f"yoi session prune --unreferenced --dry-run over {args.sessions} sessions: "
            f"fs {fs_time:.2f} s  postgresql {pg_time:.2f} s  ratio pg/fs {pg_time / fs_time:.2f}"
        )


if __name__ == "__main__":
    main()
