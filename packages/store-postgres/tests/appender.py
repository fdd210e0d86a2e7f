"""Append COUNT entries to one segment as writer W, after a start signal on stdin.

Usage: python appender.py STORE_URL SESSION SEGMENT W COUNT. Prints "ready", waits for a line
on stdin (so every writer starts together), appends, prints "done".
"""

from __future__ import annotations

import sys

from yoi_session_store.ids import SegmentId, SessionId
from yoi_session_store.model import Extension
from yoi_session_store.plugins import open_session_store


def main() -> None:
    url, session, segment, writer, count = sys.argv[1:]
    store = open_session_store(url)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(count)):
        entry = Extension(1, "append-test", {"writer": int(writer), "i": i})
        store.append(SessionId(session), SegmentId(segment), entry)
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
