"""``yoi session list/show/stats/prune`` through the installed ``yoi`` on real stores."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from cleanup_support import (
    age_session,
    make_session,
    session_dir,
    undeletable,
    unprivileged,
    write_pod,
    write_runtime_record,
)
from conftest import YOI, YoiResult, YoiRunner

DAY = 86400
OLD = 40 * DAY


# ---- help and usage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("session",),
        ("session", "--help"),
        *(("session", sub, "--help") for sub in ("list", "show", "stats", "prune")),
    ],
)
def test_help_goes_to_stdout(yoi: YoiRunner, args: tuple[str, ...]) -> None:
    result = yoi(*args)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.startswith("Usage: yoi session")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("prune",), "yoi session prune requires --unreferenced"),
        (("prune", "--force", "--older-than", "1d"), "yoi session prune requires --unreferenced"),
        (("prune", "--unreferenced", "--older-than"), "--older-than requires a duration value"),
        (("prune", "--unreferenced", "--grace"), "--grace requires a duration value"),
        (("prune", "--unreferenced", "--older-than", "d"), "duration `d` must use an explicit"),
        (("prune", "--unreferenced", "--older-than", "1.5h"), "unknown duration unit `.` in"),
        (("prune", "--unreferenced", "--grace", "0m"), "duration must be greater than zero"),
        (("prune", "--unreferenced", "x"), "yoi session prune accepts no positional arguments"),
        (("prune", "--unreferenced", "--bogus"), "unknown yoi session prune option `--bogus`"),
        (("show",), "yoi session show requires an explicit session id"),
        (("show", "a", "b"), "yoi session show accepts exactly one session id"),
        (("show", "../etc"), "invalid session id '../etc'"),
        (("show", "A" * 8 + "-0000-7000-8000-" + "0" * 12), "invalid session id 'AAAAAAAA-"),
        (("stats", "x"), "yoi session stats accepts no positional arguments"),
        (("nope",), "unknown yoi session command `nope`"),
    ],
)
def test_bad_usage_is_specific(yoi: YoiRunner, args: tuple[str, ...], message: str) -> None:
    result = yoi("session", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"yoi: {message}" in result.stderr
    assert "--help` for usage." in result.stderr


def test_store_errors_are_messages_not_tracebacks(yoi: YoiRunner) -> None:
    result = yoi("session", "--store", "nosuch:", "list")
    assert result.exit_code == 1
    assert "yoi session: session store: no session store backend for scheme 'nosuch'" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


# ---- prune ---------------------------------------------------------------------------------------


def test_prune_keeps_referenced_young_and_newer_sessions(
    yoi: YoiRunner, data: Path, run: Path
) -> None:
    active, segment = make_session(data, age_seconds=OLD)
    pending, _ = make_session(data, age_seconds=OLD)
    events, _ = make_session(data, age_seconds=OLD)
    orphan, _ = make_session(data, age_seconds=OLD)
    week_old, _ = make_session(data, age_seconds=7 * DAY)
    young, _ = make_session(data)
    write_pod(data, run, "alpha", session=active, segment=segment)
    write_pod(data, run, "beta", session=pending)
    write_runtime_record(data, run, "rt-1", events)

    dry = yoi("session", "prune", "--unreferenced")
    assert dry.exit_code == 0
    lines = dry.stdout.splitlines()
    assert lines[:4] == [
        "yoi session prune",
        "mode: dry-run",
        "scope: unreferenced sessions",
        "grace: 10m",
    ]
    assert f"kept: {young} (newer than grace period)" in lines
    assert f"would_delete: {week_old} (unreferenced session)" in lines
    assert f"would_delete: {orphan} (unreferenced session)" in lines
    assert f"kept: {active} (referenced by pod metadata (pod alpha))" in lines
    assert f"kept: {pending} (referenced by pod metadata (pod beta))" in lines
    assert f"kept: {events} (referenced by runtime record (runtime rt-1))" in lines
    assert lines[-2].startswith(
        "summary: deleted=0 would_delete=2 kept_referenced=3 kept_newer=1 kept_vanished=0 "
        "refused=0 failed=0 ("
    )
    assert lines[-1] == "note: pass --force to delete sessions; --dry-run keeps report-only mode"
    # Listed newest first: the young session leads.
    assert lines[4] == f"kept: {young} (newer than grace period)"

    threshold = yoi("session", "prune", "--unreferenced", "--older-than", "30d", "--force")
    assert threshold.exit_code == 0
    assert "older_than: 30d" in threshold.stdout
    assert f"kept: {week_old} (newer than threshold)" in threshold.stdout
    assert f"deleted: {orphan} (unreferenced session)" in threshold.stdout
    assert not session_dir(data, orphan).exists()
    for kept in (active, pending, events, week_old, young):
        assert session_dir(data, kept).exists()

    forced = yoi("session", "prune", "--unreferenced", "--force", "--dry-run")
    assert "mode: dry-run" in forced.stdout
    assert session_dir(data, week_old).exists()
    # A minute old: inside the default grace (kept above), past a grace of 1 s, whatever the
    # time the commands so far took.
    age_session(data, young, 60)
    grace = yoi("session", "prune", "--unreferenced", "--force", "--grace", "1s", "--json").json()
    actions = {item["id"]: item["action"] for item in grace["items"]}
    assert actions[week_old] == "deleted"
    assert actions[young] == "deleted"
    assert grace["summary"]["reclaimed_bytes"] == sum(
        item["bytes"] for item in grace["items"] if item["action"] == "deleted"
    )
    assert grace["summary"]["reclaimed_bytes"] > 0
    assert sorted(p.name for p in (data / "sessions").iterdir() if not p.name.startswith(".")) == (
        sorted([active, pending, events])
    )


def test_pod_delete_then_session_prune(yoi: YoiRunner, data: Path, run: Path) -> None:
    session, segment = make_session(data, age_seconds=OLD)
    write_pod(data, run, "alpha", session=session, segment=segment)
    assert f"kept: {session} (referenced" in yoi("session", "prune", "--unreferenced").stdout
    assert yoi("pod", "delete", "alpha", "--force").exit_code == 0
    assert session_dir(data, session).exists()
    result = yoi("session", "prune", "--unreferenced", "--force")
    assert f"deleted: {session} (unreferenced session)" in result.stdout
    assert not session_dir(data, session).exists()


def test_unreadable_pod_record_refuses_every_unreferenced_session(
    yoi: YoiRunner, data: Path, run: Path
) -> None:
    referenced, _ = make_session(data, age_seconds=OLD)
    orphans = [make_session(data, age_seconds=OLD)[0] for _ in range(3)]
    write_pod(data, run, "alpha", session=referenced)
    write_pod(data, run, "broken")
    (data / "pods" / "broken" / "metadata.json").write_text("{")
    result = yoi("session", "prune", "--unreferenced", "--force")
    assert result.exit_code == 1
    for orphan in orphans:
        assert (
            f"refused: {orphan} (session references are incomplete: 1 unreadable record(s) "
            "(pod metadata broken) may reference it)"
        ) in result.stdout
        assert session_dir(data, orphan).exists()
    assert f"kept: {referenced} (referenced by pod metadata (pod alpha))" in result.stdout
    assert "refused=3" in result.stdout
    listed = yoi("session", "list", "--unreferenced")
    assert "warning: session references are incomplete" in listed.stderr


def test_failed_delete_is_recorded_and_the_run_goes_on(yoi: YoiRunner, data: Path) -> None:
    first, _ = make_session(data, age_seconds=OLD)
    stuck, stuck_segment = make_session(data, age_seconds=OLD - 10)
    last, _ = make_session(data, age_seconds=OLD - 20)
    with undeletable(session_dir(data, stuck) / f"{stuck_segment}.jsonl"):
        result = yoi("session", "prune", "--unreferenced", "--force")
    assert result.exit_code == 1
    assert f"failed: {stuck} (" in result.stdout
    assert f"deleted: {first} (unreferenced session)" in result.stdout
    assert f"deleted: {last} (unreferenced session)" in result.stdout
    assert "summary: deleted=2 would_delete=0" in result.stdout
    assert "failed=1" in result.stdout


def test_bounded_report_shows_every_deletion_and_refusal(
    yoi: YoiRunner, data: Path, run: Path
) -> None:
    kept = [make_session(data) for _ in range(60)]
    old = [make_session(data, age_seconds=OLD)[0] for _ in range(55)]
    write_pod(data, run, "alpha", session=kept[0][0])
    result = yoi("session", "prune", "--unreferenced")
    lines = result.stdout.splitlines()
    assert sum(line.startswith("would_delete: ") for line in lines) == 55
    assert sum(line.startswith("kept: ") for line in lines) == 50
    assert "... 10 kept items omitted from bounded report (use --json for all) ..." in lines
    document = yoi("session", "prune", "--unreferenced", "--json").json()
    assert len(document["items"]) == 115
    assert {item["id"] for item in document["items"] if item["action"] == "would_delete"} == set(
        old
    )
    (data / "pods" / "alpha" / "metadata.json").write_text("oops")
    refused = yoi("session", "prune", "--unreferenced").stdout.splitlines()
    assert sum(line.startswith("refused: ") for line in refused) == 55


def test_symlinked_session_pointing_outside_is_never_touched(
    yoi: YoiRunner, data: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / f"{uuid.uuid4()}.jsonl"
    victim.write_text("precious\n")
    make_session(data, age_seconds=OLD)
    link = data / "sessions" / str(uuid.uuid4())
    link.symlink_to(outside)
    result = yoi("session", "prune", "--unreferenced", "--force", "--grace", "1s")
    assert result.exit_code == 0
    assert "deleted=1" in result.stdout
    assert link.is_symlink()
    assert victim.read_text() == "precious\n"
    assert str(link.name) not in yoi("session", "list").stdout


def test_an_unreadable_session_is_reported_per_item_and_never_pruned(
    yoi_env: dict[str, str], data: Path, run: Path
) -> None:
    referenced, _ = make_session(data, age_seconds=OLD)
    orphan, _ = make_session(data, age_seconds=OLD)
    locked, _ = make_session(data, age_seconds=OLD)
    write_pod(data, run, "alpha", session=referenced)
    session_dir(data, locked).chmod(0o000)

    def yoi_unprivileged(*args: str) -> YoiResult:
        done = subprocess.run(
            unprivileged([YOI, *args]),
            env=yoi_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return YoiResult(done.returncode, done.stdout, done.stderr)

    try:
        listed = yoi_unprivileged("session", "list", "--json")
        text = yoi_unprivileged("session", "list")
        stats = yoi_unprivileged("session", "stats", "--json")
        pruned = yoi_unprivileged("session", "prune", "--unreferenced", "--force")
    finally:
        session_dir(data, locked).chmod(0o700)
    assert listed.exit_code == 0, listed.stderr
    rows = {row["session_id"]: row for row in listed.json()["sessions"]}
    assert set(rows) == {referenced, orphan, locked}
    assert rows[locked]["error"] == "cannot be read (Permission denied)"
    assert rows[locked]["size_bytes"] is None and rows[locked]["segments"] is None
    assert rows[orphan]["error"] is None and rows[orphan]["segments"] == 1
    assert "warning: 1 session(s) cannot be read" in listed.stderr
    assert f"{locked} (cannot be read (Permission denied))" in listed.stderr
    [line] = [line for line in text.stdout.splitlines() if line.startswith(locked)]
    assert line.split()[2:4] == ["unreadable", "-"]
    assert text.stdout.splitlines()[-1].endswith("(unreadable: 1)")
    assert stats.exit_code == 0, stats.stderr
    assert stats.json()["sessions"] == 3
    assert stats.json()["unreadable_sessions"] == [locked]
    assert pruned.exit_code == 1
    assert f"deleted: {orphan} (unreferenced session)" in pruned.stdout
    assert (
        f"refused: {locked} (session cannot be read (Permission denied); what cannot be read "
        "is never deleted: make it readable, then prune again)"
    ) in pruned.stdout
    assert f"kept: {referenced} (referenced by pod metadata (pod alpha))" in pruned.stdout
    assert session_dir(data, locked).exists() and not session_dir(data, orphan).exists()


def test_session_written_during_grace_is_judged_by_its_new_age(yoi: YoiRunner, data: Path) -> None:
    session, _ = make_session(data, age_seconds=OLD)
    age_session(data, session, 5)
    result = yoi("session", "prune", "--unreferenced", "--force")
    assert f"kept: {session} (newer than grace period)" in result.stdout
    assert session_dir(data, session).exists()


# ---- list / show / stats -------------------------------------------------------------------------


def test_list_stats_and_show(yoi: YoiRunner, data: Path, run: Path) -> None:
    active, segment = make_session(data, turns=3, age_seconds=DAY)
    orphan, _ = make_session(data, age_seconds=OLD)
    write_pod(data, run, "alpha", session=active, segment=segment)
    write_pod(data, run, "gone", session=str(uuid.uuid4()))

    listed = yoi("session", "list", "--json").json()
    assert [row["session_id"] for row in listed["sessions"]] == [active, orphan]
    assert listed["sessions"][0]["referenced_by"] == ["pod alpha"]
    assert listed["sessions"][0]["segments"] == 1
    unreferenced = yoi("session", "list", "--unreferenced").stdout.splitlines()
    assert unreferenced[0].split() == [
        "SESSION",
        "LAST_ACTIVITY",
        "SIZE",
        "SEGMENTS",
        "REFERENCED_BY",
    ]
    assert [line.split()[0] for line in unreferenced[1:-1]] == [orphan]

    stats = yoi("session", "stats", "--json").json()
    sizes = {row["session_id"]: row["size_bytes"] for row in listed["sessions"]}
    assert stats["sessions"] == 2
    assert stats["bytes"] == sum(sizes.values())
    assert stats["unreferenced"] == 1
    assert stats["unreferenced_bytes"] == sizes[orphan]
    assert stats["referenced"] == 1
    assert len(stats["dangling_references"]) == 1
    assert stats["oldest_activity"] < stats["newest_activity"]
    text = yoi("session", "stats").stdout
    assert "unreferenced: 1\n" in text
    assert "references_complete: yes" in text

    shown = yoi("session", "show", active, "--last", "3")
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f"session: {active}" in lines
    assert "referenced_by: pod alpha" in lines
    assert "segments: 1" in lines
    assert "entries: 25" in lines
    assert "turns: 3" in lines
    assert f"last 3 entries of segment {segment}:" in lines
    assert lines[-1].endswith('run_completed: {"interrupted":false,"result":"finished"}')
    assert "turn_end: turn 3" in lines[-2]
    document = yoi("session", "show", active, "--json").json()
    assert len(document["last_entries"]) == 10
    assert document["segments"][0]["entries"] == 25
    missing = yoi("session", "show", str(uuid.uuid4()))
    assert missing.exit_code == 1
    assert "does not exist" in missing.stderr


def test_show_reports_a_corrupt_segment(yoi: YoiRunner, data: Path) -> None:
    session, segment = make_session(data, turns=1)
    path = session_dir(data, session) / f"{segment}.jsonl"
    with path.open("ab") as handle:
        handle.write(b"{not json}\n")
    result = yoi("session", "show", session)
    assert result.exit_code == 1
    assert f"segment: {segment} unreadable:" in result.stdout
    assert "line 10" in result.stdout
