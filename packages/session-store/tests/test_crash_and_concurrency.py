"""Real processes: a writer SIGKILLed at random moments, and four writers on one segment."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.errors import TornTailWarning
from yoi_session_store.ids import SegmentId, new_segment_id, new_session_id
from yoi_session_store.model import Extension
from yoi_session_store.testing.samples import segment_start

WRITER = str(Path(__file__).with_name("crash_writer.py"))
KILLS = 50


def _spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WRITER, *map(str, args)], stdout=subprocess.PIPE, text=True
    )


def test_sigkilled_writer_never_loses_an_acknowledged_entry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = FsSessionStore(data, fsync="never")
    session, first = new_session_id(), new_segment_id()
    store.create_segment(session, first, [segment_start(session)])
    acknowledged: dict[SegmentId, set[tuple[int, int]]] = {first: set()}
    segment = first
    rng = random.Random(1234)
    torn_tails_seen = 0
    for iteration in range(KILLS):
        # Alternate the durability policy and the entry size; sizes above the pipe buffer
        # and page size make a kill in the middle of a write more likely.
        fsync = "always" if iteration % 3 == 0 else "never"
        size = rng.choice([100, 5000, 70000])
        child = _spawn(data, session, segment, iteration, fsync, size)
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        # Once it has acknowledged an entry, kill it at a random moment of its writing (the
        # sleep waits for nothing: it picks the moment).
        first_ack = child.stdout.readline()
        assert first_ack, "the writer stopped before it was killed"
        time.sleep(rng.uniform(0, 0.06))
        child.send_signal(signal.SIGKILL)
        output, _ = child.communicate()
        assert child.returncode == -signal.SIGKILL
        for line in [first_ack.rstrip("\n"), *output.splitlines()]:
            name, _, value = line.partition(" ")
            if name == "new":
                segment = SegmentId(value)
                acknowledged.setdefault(segment, set())
            else:
                acknowledged.setdefault(SegmentId(name), set()).add((iteration, int(value)))
        # Every segment stays readable and holds every acknowledged entry.
        for name, expected in acknowledged.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                entries = store.read_all(session, name)
            torn_tails_seen += sum(issubclass(w.category, TornTailWarning) for w in caught)
            found = {(e.payload["it"], e.payload["i"]) for e in entries if isinstance(e, Extension)}
            missing = expected - found
            assert not missing, f"iteration {iteration}: lost {sorted(missing)[:5]} in {name}"
    total = sum(len(v) for v in acknowledged.values())
    print(f"acknowledged {total}, torn tails seen {torn_tails_seen}")
    assert total > KILLS
    # The next writer cuts off a torn tail instead of gluing to it: all lines still decode.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornTailWarning)
        count = store.append(session, segment, Extension(0, "after", None))
        entries = store.read_all(session, segment)
    assert len(entries) == count
    store.close()


def test_four_processes_append_to_one_segment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = FsSessionStore(data)
    session, segment = new_session_id(), new_segment_id()
    store.create_segment(session, segment, [segment_start(session)])
    per_writer = 300
    children = [_spawn(data, session, segment, w, "segment", 1000, per_writer) for w in range(4)]
    for child in children:
        output, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        assert len(output.splitlines()) == per_writer + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torn or interleaved line would be an error
        entries = store.read_all(session, segment)
    assert len(entries) == 1 + 4 * per_writer
    raw = (data / "sessions" / session / f"{segment}.jsonl").read_bytes()
    assert raw.count(b"\n") == len(entries) and raw.endswith(b"\n")
    for w in range(4):
        mine = [
            e.payload["i"] for e in entries if isinstance(e, Extension) and e.payload["it"] == w
        ]
        assert mine == list(range(per_writer))
    store.close()
