"""Listing sessions with last activity and size vs raw os.scandir + stat of the same dirs.

Usage: python bench/session_list.py [SESSIONS]   (default 10000)

Ratios are time (ours / baseline): lower is better; goal <= 3x. Two baselines: the same walk
done raw (scandir the root, stat each session dir, scandir it and stat its files: the system
calls the answer needs), and the bare minimum (scandir the root, stat each session dir).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from session_common import best_of, size_arg
from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.ids import new_segment_id, new_session_id
from yoi_session_store.testing.samples import segment_start


def main() -> None:
    count = size_arg(10_000)
    with tempfile.TemporaryDirectory(prefix="yoi-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        store = FsSessionStore(Path(tmp), fsync="never")
        for _ in range(count):
            session = new_session_id()
            store.create_segment(session, new_segment_id(), [segment_start(session)])
        root = str(store.sessions_dir)

        def raw_walk() -> None:
            with os.scandir(root) as sessions:
                for entry in sessions:
                    newest = entry.stat(follow_symlinks=False).st_mtime_ns
                    size = 0
                    with os.scandir(entry.path) as files:
                        for file in files:
                            st = file.stat(follow_symlinks=False)
                            size += st.st_size
                            newest = max(newest, st.st_mtime_ns)

        def raw_stat() -> None:
            with os.scandir(root) as sessions:
                for entry in sessions:
                    entry.stat(follow_symlinks=False)

        def ours() -> None:
            assert len(store.list_sessions()) == count

        walk = best_of(3, raw_walk)
        bare = best_of(3, raw_stat)
        mine = best_of(3, ours)
        store.close()
    print(f"list {count} sessions (one segment each)")
    print(f"raw scandir+stat of session dirs   {bare * 1000:8.1f} ms")
    print(f"raw walk (dirs and their files)    {walk * 1000:8.1f} ms")
    print(f"list_sessions()                    {mine * 1000:8.1f} ms")
    print(f"  ratio vs raw walk:               {mine / walk:.2f}x  (goal <= 3x)")
    print(f"  ratio vs dir stats only:         {mine / bare:.2f}x")


if __name__ == "__main__":
    main()
