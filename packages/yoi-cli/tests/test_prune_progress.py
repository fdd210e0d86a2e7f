"""Long prunes show their work: lines as items are decided, a progress line on a terminal,
Ctrl-C stops after the item in hand with a true summary, sizes and durations for people."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

from cleanup_support import age_session, backdate
from conftest import YOI, YoiRunner

DAY = 86400
OLD = 40 * DAY
#: Enough deletion lines to fill a pipe (64 KiB) several times: a prune whose reader stops
#: reading blocks long before it could finish.
MANY = 2500


def old_sessions(data: Path, count: int, trace_bytes: int = 0) -> list[str]:
    """``count`` unreferenced sessions last active 40 days ago, written through session-store."""
    from yoi_session_store.backends.fs import FsSessionStore
    from yoi_session_store.ids import new_segment_id, new_session_id
    from yoi_session_store.testing.samples import segment_start

    store = FsSessionStore(data, fsync="never")
    sessions: list[str] = []
    try:
        for _ in range(count):
            session, segment = new_session_id(), new_segment_id()
            store.create_segment(session, segment, [segment_start(session)])
            if trace_bytes:
                store.append_trace(session, segment, {"padding": "x" * trace_bytes})
            sessions.append(session)
    finally:
        store.close()
    for name in sessions:
        age_session(data, name, OLD)
    return sessions


def remaining(data: Path) -> int:
    return sum(1 for entry in (data / "sessions").iterdir() if not entry.name.startswith("."))


def interrupt_after_first(
    yoi_env: dict[str, str], action: str, *args: str
) -> tuple[int, list[str]]:
    """Run ``yoi ARGS``, send a real SIGINT once the first ``action:`` line arrives (the reader
    stops meanwhile, so the prune cannot finish first), then read all it prints."""
    # stdout is the only pipe: communicate() then reads on from the text stream, whose buffer
    # may already hold lines past the one that triggered the signal (with a second pipe it
    # would read the raw descriptors and lose them).
    process = subprocess.Popen(
        [YOI, *args], env=yoi_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith(f"{action}: "):
                process.send_signal(signal.SIGINT)
                break
        rest, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, rest.splitlines()


def summary_counts(lines: list[str]) -> dict[str, int]:
    [summary] = [line for line in lines if line.startswith("summary: ")]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", summary)}


def test_ctrl_c_stops_a_session_prune_after_the_item_in_hand(
    yoi_env: dict[str, str], data: Path
) -> None:
    old_sessions(data, MANY)
    code, lines = interrupt_after_first(
        yoi_env, "deleted", "session", "prune", "--unreferenced", "--force"
    )
    assert code == 130
    deleted_lines = 1 + sum(1 for line in lines if line.startswith("deleted: "))
    gone = MANY - remaining(data)
    counts = summary_counts(lines)
    assert 0 < gone < MANY
    assert counts["deleted"] == deleted_lines == gone
    assert f"interrupted: stopped after {gone} of {MANY} sessions (Ctrl-C)" in lines
    assert lines[-1].startswith("summary: ")


def test_ctrl_c_stops_a_pod_prune_after_the_item_in_hand(
    yoi_env: dict[str, str], data: Path, run: Path
) -> None:
    from yoi_pod_store.backends.fs import FsPodStore
    from yoi_pod_store.model import PodRecord

    store = FsPodStore(data, run)
    count = 1500
    for number in range(count):
        store.write(PodRecord(f"pod-{number:05d}"))
        backdate(store.pod_path(f"pod-{number:05d}"), DAY)
    code, lines = interrupt_after_first(
        yoi_env, "deleted", "pod", "prune", "--older-than", "1s", "--force"
    )
    assert code == 130
    gone = count - len(store.list_pods())
    counts = summary_counts(lines)
    assert 0 < gone < count
    assert counts["deleted"] == gone == 1 + sum(1 for line in lines if line.startswith("deleted: "))
    assert f"interrupted: stopped after {gone} of {count} pods (Ctrl-C)" in lines


def test_ctrl_c_with_json_prints_the_items_done_so_far(yoi_env: dict[str, str], data: Path) -> None:
    # --json prints one document at the end: wait for the prune to be under way instead.
    old_sessions(data, MANY)
    process = subprocess.Popen(
        [YOI, "session", "prune", "--unreferenced", "--force", "--json"],
        env=yoi_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while remaining(data) == MANY and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the condition the signal waits for, bounded
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    document = json.loads(out)
    assert process.returncode == 130
    assert document["interrupted"] is True and document["exit_code"] == 130
    gone = MANY - remaining(data)
    assert document["summary"]["deleted"] == len(document["items"]) == gone < MANY


def _pty_stderr(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``yoi`` with stderr on an 80-column terminal; stdout on a pipe."""
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    assert process.stdout is not None
    screen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    out = process.stdout.read()
    process.stdout.close()
    os.close(controller)
    return process.wait(timeout=60), out.decode(), screen.decode(errors="replace")


def test_a_terminal_gets_a_progress_line_on_stderr_and_stdout_stays_plain(
    yoi_env: dict[str, str], data: Path
) -> None:
    sessions = old_sessions(data, 40, trace_bytes=50_000)
    code, out, screen = _pty_stderr([YOI, "session", "prune", "--unreferenced", "--force"], yoi_env)
    assert code == 0
    assert sorted(line.split()[1] for line in out.splitlines() if line.startswith("deleted:")) == (
        sorted(sessions)
    )
    assert "\x1b" not in out and "\r" not in out
    # count, rate, bytes reclaimed and time left, redrawn in place
    assert re.search(r"\b\d+/40 \[", screen), screen
    assert "sessions/s" in screen
    assert re.search(r"\d+\.\d MB reclaimed", screen), screen
    assert "\r" in screen


def test_no_progress_line_for_json_or_a_non_terminal(
    yoi: YoiRunner, yoi_env: dict[str, str], data: Path
) -> None:
    old_sessions(data, 5)
    code, out, screen = _pty_stderr([YOI, "session", "prune", "--unreferenced", "--json"], yoi_env)
    assert code == 0 and screen == ""
    assert json.loads(out)["summary"]["would_delete"] == 5
    piped = yoi("session", "prune", "--unreferenced", "--force")
    assert piped.exit_code == 0 and piped.stderr == ""


def test_sizes_and_durations_are_for_people_in_text_and_exact_in_json(
    yoi: YoiRunner, data: Path
) -> None:
    old_sessions(data, 5, trace_bytes=1_400_000)
    dry = yoi("session", "prune", "--unreferenced", "--grace", "1h30m", "--older-than", "14d")
    lines = dry.stdout.splitlines()
    assert lines[2:5] == ["scope: unreferenced sessions", "older_than: 2w", "grace: 1h30m"]
    assert re.fullmatch(r"summary: .* failed=0 \(7\.0 MB to reclaim\)", lines[-2]), lines[-2]
    listed = yoi("session", "list").stdout.splitlines()
    assert listed[-1] == "sessions: 5 (7.0 MB)"
    document = yoi(
        "session", "prune", "--unreferenced", "--grace", "1h30m", "--force", "--json"
    ).json()
    assert document["grace"] == "5400s"
    assert 7_000_000 < document["summary"]["reclaimed_bytes"] < 7_050_000
    assert (
        sum(item["bytes"] for item in document["items"]) == (document["summary"]["reclaimed_bytes"])
    )
