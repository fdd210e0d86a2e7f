"""Child process for the crash tests: appends and reports each acknowledged entry.

Usage: crash_writer.py DATA_DIR SESSION SEGMENT ITERATION FSYNC ENTRY_BYTES [COUNT]

Prints ``ready`` once the store is open, then ``<segment> <i>`` after each append of entry i
returns (and ``new <segment>`` after creating a segment), flushing every line. Without COUNT it
appends until killed; every 40 entries it starts a new segment in the same session.
"""

from __future__ import annotations

import sys

from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.ids import SegmentId, SessionId, new_segment_id
from yoi_session_store.model import Extension
from yoi_session_store.testing.samples import segment_start


def main(argv: list[str]) -> int:
    data_dir, session_text, segment_text, iteration, fsync, size = argv[:6]
    count = int(argv[6]) if len(argv) > 6 else None
    session, segment = SessionId(session_text), SegmentId(segment_text)
    store = FsSessionStore(data_dir, fsync=fsync)
    padding = "x" * int(size)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    i = 0
    while count is None or i < count:
        if count is None and i and i % 40 == 0:
            segment = new_segment_id()
            store.create_segment(session, segment, [segment_start(session)])
            out.write(f"new {segment}\n")
            out.flush()
        store.append(
            session, segment, Extension(i, "crash", {"it": int(iteration), "i": i, "p": padding})
        )
        out.write(f"{segment} {i}\n")
        out.flush()
        i += 1
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
