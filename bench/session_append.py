"""Append throughput of the fs session store vs raw os.write loops of the same bytes.

Usage: python bench/session_append.py [ENTRIES]   (default 10000 entries of ~1 KiB)

Ratios are rates (ours / baseline): higher is better; goals: default durability >= 0.8x the
raw write+fsync loop, fsync off >= 0.3x the raw write loop.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from session_common import kib_entry, line_of, size_arg, timed
from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id, new_session_id
from yoi_session_store.model import Entry
from yoi_session_store.testing.samples import segment_start

ROUNDS = 10


def interleaved(data: Path, entries: list[Entry], fsync: str, raw_sync: str) -> tuple[float, float]:
    """(raw seconds, store seconds) for the same entries, alternating in rounds.

    Disk latency drifts (other load, device caches); alternating the two loops in rounds
    exposes both to the same conditions, so the ratio is fair even when the totals wander.
    """
    lines = [line_of(e) for e in entries]
    fd = os.open(data.with_suffix(".raw"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    store = FsSessionStore(data, fsync=fsync)
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session)])
    append, write = store.append, os.write
    sync = {"fsync": os.fsync, "fdatasync": os.fdatasync}.get(raw_sync)
    step = max(len(entries) // ROUNDS, 1)
    raw_total = store_total = 0.0
    for start in range(0, len(entries), step):
        chunk, chunk_lines = entries[start : start + step], lines[start : start + step]
        began = time.perf_counter()
        for line in chunk_lines:
            write(fd, line)
            if sync is not None:
                sync(fd)
        raw_total += time.perf_counter() - began
        began = time.perf_counter()
        for entry in chunk:
            append(session, segment, entry)
        store_total += time.perf_counter() - began
    os.close(fd)
    assert store.read_entry_count(session, segment) == len(entries) + 1
    store.close()
    return raw_total, store_total


def _writer(data: str, session: str, segment: str, entries: list[Entry]) -> None:
    store = FsSessionStore(data)
    for entry in entries:
        store.append(SessionId(session), SegmentId(segment), entry)
    store.close()


def concurrent_writers(data: Path, entries: list[Entry], writers: int) -> float:
    store = FsSessionStore(data)
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session)])
    share = len(entries) // writers
    context = multiprocessing.get_context("fork")
    procs = [
        context.Process(
            target=_writer,
            args=(str(data), session, segment, entries[w * share : (w + 1) * share]),
        )
        for w in range(writers)
    ]

    def run() -> None:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()

    elapsed = timed(run)
    assert store.read_entry_count(session, segment) == 1 + share * writers
    return elapsed


def main() -> None:
    count = size_arg(10_000)
    entries = [kib_entry(n) for n in range(count)]
    line_size = sum(len(line_of(e)) for e in entries[:100]) / min(count, 100)
    print(f"append {count} entries, {line_size:.0f} bytes per line, {ROUNDS} alternating rounds")
    with tempfile.TemporaryDirectory(prefix="yoi-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        raw_fsync, ours_always = interleaved(root / "always", entries, "always", "fsync")
        raw_fdatasync, ours_always2 = interleaved(root / "always2", entries, "always", "fdatasync")
        raw_plain, ours_never = min(
            (interleaved(root / f"never-{i}", entries, "never", "none") for i in range(3)),
            key=lambda pair: pair[1],
        )
        raw_plain2, ours_segment = interleaved(root / "segment", entries, "segment", "none")
        four = concurrent_writers(root / "four", entries, 4)

    def rate(seconds: float) -> str:
        return f"{count / seconds:>10,.0f}/s ({seconds / count * 1e6:8.1f} us/append)"

    print(f"raw os.write+os.fsync        {rate(raw_fsync)}")
    print(f"store fsync=always (default) {rate(ours_always)}")
    print(f"  ratio vs write+fsync:      {raw_fsync / ours_always:.2f}x  (goal >= 0.8x)")
    print(f"raw os.write+os.fdatasync    {rate(raw_fdatasync)}")
    print(f"store fsync=always (default) {rate(ours_always2)}")
    print(f"  ratio vs write+fdatasync:  {raw_fdatasync / ours_always2:.2f}x")
    print(f"raw os.write                 {rate(raw_plain)}")
    print(f"store fsync=never            {rate(ours_never)}")
    print(f"  ratio vs write:            {raw_plain / ours_never:.2f}x  (goal >= 0.3x)")
    print(f"raw os.write                 {rate(raw_plain2)}")
    print(f"store fsync=segment          {rate(ours_segment)}")
    print(f"  ratio vs write:            {raw_plain2 / ours_segment:.2f}x")
    print(f"4 processes, fsync=always    {rate(four)} (aggregate)")
    print(f"  ratio vs 1 store writer:   {ours_always / four:.2f}x  (one fdatasync per append)")


if __name__ == "__main__":
    main()
