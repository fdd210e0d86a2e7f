"""Replay of a long segment (read, parse, structure, apply) vs json.loads of the same lines.

Usage: python bench/session_replay.py [ENTRIES]   (default 100000)

Ratio is time (ours / baseline): lower is better; goal <= 1.0x. The baseline only parses lines
already split in memory; ours also reads the file, splits it, builds typed entries and replays.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from session_common import size_arg, timed
from yoi_session_store import history
from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.ids import new_segment_id, new_session_id
from yoi_session_store.model import Entry
from yoi_session_store.testing.samples import segment_start, turn


def main() -> None:
    count = size_arg(100_000)
    session, segment = new_session_id(), new_segment_id()
    entries: list[Entry] = [segment_start(session)]
    number = 0
    while len(entries) < count:
        number += 1
        entries.extend(turn(400, number=number))
    entries = entries[:count]
    with tempfile.TemporaryDirectory(prefix="yoi-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        store = FsSessionStore(Path(tmp), fsync="never")
        store.create_segment(session, segment, entries)
        path = store.sessions_dir / session / f"{segment}.jsonl"
        raw = path.read_bytes()
        lines = raw.splitlines()
        print(f"replay {len(lines)} entries, {len(raw) / len(lines):.0f} bytes per line on average")

        def baseline() -> None:
            loads = json.loads
            for line in lines:
                loads(line)

        def ours() -> None:
            state = history.restore(store, session, segment)
            assert state.entries_count == count

        # Alternate the runs so both sides see the same machine load; keep each side's best.
        base = mine = read_only = float("inf")
        for _ in range(5):
            base = min(base, timed(baseline))
            mine = min(mine, timed(ours))
            read_only = min(read_only, timed(lambda: store.read_all(session, segment)))
        store.close()
    print(f"json.loads of the lines      {base * 1000:8.1f} ms")
    print(f"read_all (typed entries)     {read_only * 1000:8.1f} ms")
    print(f"restore (read_all + replay)  {mine * 1000:8.1f} ms")
    print(f"  ratio restore/json.loads:  {mine / base:.2f}x  (goal <= 1.0x)")


if __name__ == "__main__":
    main()
