"""The same append-then-read workload in the fs session store and in sqlite3.

Usage: python bench/session_sqlite.py [ENTRIES]   (default 5000 entries of ~1 KiB)

sqlite3 runs in WAL mode with synchronous=FULL, one transaction per append (each append is
acknowledged durably, as with the store's default fsync=always). Ratios are time
(fs store / sqlite): below 1.0x the store is faster.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from session_common import kib_entry, size_arg, timed
from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.ids import new_segment_id, new_session_id
from yoi_session_store.model import decode_entry, encode_entry
from yoi_session_store.testing.samples import segment_start


def main() -> None:
    count = size_arg(5_000)
    entries = [kib_entry(n) for n in range(count)]
    with tempfile.TemporaryDirectory(prefix="yoi-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        store = FsSessionStore(Path(tmp) / "fs")
        session, segment = new_session_id(), new_segment_id()
        store.create_segment(session, segment, [segment_start(session)])
        fs_append = timed(lambda: [store.append(session, segment, e) for e in entries])
        fs_read = timed(lambda: store.read_all(session, segment))
        store.close()

        db = sqlite3.connect(Path(tmp) / "sessions.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(
            "CREATE TABLE entries"
            " (segment TEXT, seq INTEGER, line BLOB, PRIMARY KEY (segment, seq))"
        )

        def sqlite_append() -> None:
            for seq, entry in enumerate(entries):
                db.execute(
                    "INSERT INTO entries VALUES (?, ?, ?)", (segment, seq, encode_entry(entry))
                )

        def sqlite_read() -> None:
            rows = db.execute(
                "SELECT line FROM entries WHERE segment = ? ORDER BY seq", (segment,)
            ).fetchall()
            assert len([decode_entry(row[0]) for row in rows]) == count

        sq_append = timed(sqlite_append)
        sq_read = timed(sqlite_read)
        db.close()
    print(f"{count} appends of ~1 KiB, then read all back (typed entries)")
    print(
        f"fs store append  {fs_append * 1000:8.1f} ms   sqlite append  {sq_append * 1000:8.1f} ms"
    )
    print(f"  ratio fs/sqlite append: {fs_append / sq_append:.2f}x")
    print(f"fs store read    {fs_read * 1000:8.1f} ms   sqlite read    {sq_read * 1000:8.1f} ms")
    print(f"  ratio fs/sqlite read:   {fs_read / sq_read:.2f}x")


if __name__ == "__main__":
    main()
