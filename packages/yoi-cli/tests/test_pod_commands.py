"""``yoi pod list/show/delete/prune`` through the installed ``yoi``, with real host processes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cleanup_support import (
    Hosts,
    backdate,
    make_session,
    session_dir,
    wait_until,
    write_pod,
)
from conftest import YoiRunner

DAY = 86400
OLD = 40 * DAY


@pytest.fixture
def hosts(data: Path, run: Path) -> Iterator[Hosts]:
    started = Hosts(data, run)
    yield started
    started.close()


def metadata(data: Path, name: str) -> Path:
    return data / "pods" / name / "metadata.json"


# ---- help and usage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("pod",),
        ("pod", "--help"),
        *(("pod", sub, "--help") for sub in ("list", "show", "delete", "prune")),
    ],
)
def test_help_goes_to_stdout(yoi: YoiRunner, args: tuple[str, ...]) -> None:
    result = yoi(*args)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.startswith("Usage: yoi pod")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("delete",), "yoi pod delete requires an explicit Pod name"),
        (("delete", "a", "b"), "yoi pod delete accepts exactly one Pod name"),
        (("delete", "--frob", "a"), "unknown yoi pod delete option `--frob`"),
        (("delete", "-x"), "unknown yoi pod delete option `-x`"),
        (("show",), "yoi pod show requires an explicit Pod name"),
        (("show", "a", "b"), "yoi pod show accepts exactly one Pod name"),
        (("prune",), "yoi pod prune requires --older-than <DURATION>"),
        (("prune", "--force"), "yoi pod prune requires --older-than <DURATION>"),
        (("prune", "--older-than"), "--older-than requires a duration value"),
        (("prune", "--older-than", "30"), "duration `30` must use an explicit unit"),
        (("prune", "--older-than=-5d"), "duration `-5d` must use an explicit unit"),
        (("prune", "--older-than", "7D"), "unknown duration unit `D` in `7D`"),
        (("prune", "--older-than", "1h30"), "duration `1h30` must use an explicit unit"),
        (("prune", "--older-than", "1.5h"), "unknown duration unit `.` in `1.5h`"),
        (("prune", "--older-than", "0d"), "duration must be greater than zero"),
        (("prune", "--older-than", f"{2**64}s"), f"invalid duration amount `{2**64}s`"),
        (("prune", "--older-than", "1d", "alpha"), "yoi pod prune accepts no positional"),
        (("list", "extra"), "yoi pod list accepts no positional arguments"),
        (("frobnicate",), "unknown yoi pod command `frobnicate`"),
    ],
)
def test_bad_usage_is_specific(yoi: YoiRunner, args: tuple[str, ...], message: str) -> None:
    result = yoi("pod", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"yoi: {message}" in result.stderr
    assert "--help` for usage." in result.stderr


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("a/b", "must not contain '/'"),
        ("..", "must not be '.' or '..'"),
        ("a\nb", "must not contain whitespace"),
        ("a\x1bb", "must not contain control characters"),
        ("x" * 81, "must be at most 80 characters long"),
        ("é", "must start with an ASCII letter or digit"),
    ],
)
def test_invalid_names_are_rejected_before_touching_storage(
    yoi: YoiRunner, data: Path, name: str, rule: str
) -> None:
    for command in ("delete", "show"):
        result = (
            yoi("pod", command, "--force", name)
            if command == "delete"
            else yoi("pod", command, name)
        )
        assert result.exit_code == 2
        assert "yoi: invalid pod name" in result.stderr
        assert rule in result.stderr
        assert "\n" not in result.stderr.split("invalid pod name", 1)[1].split("\n")[0]
        assert "\x1b" not in result.stderr
    assert not (data / "pods").exists()


def test_option_values_last_wins_and_equals_form(yoi: YoiRunner, data: Path, run: Path) -> None:
    write_pod(data, run, "old", age_seconds=3 * DAY)
    result = yoi("pod", "prune", "--older-than=1h", "--older-than", "5d")
    assert "older_than: 5d" in result.stdout
    assert "kept: old (metadata is newer than threshold)" in result.stdout


# ---- store selection and store errors ------------------------------------------------------------


def test_store_errors_are_messages_not_tracebacks(yoi: YoiRunner, data: Path) -> None:
    result = yoi("pod", "--store", "nosuch:", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("yoi pod: pod store: no pod store backend for scheme 'nosuch'")
    assert "Traceback" not in result.stderr
    data.mkdir(parents=True)
    (data / "pods").write_text("not a directory")
    for args in (("list",), ("prune", "--older-than", "1d", "--force"), ("delete", "a", "--force")):
        result = yoi("pod", *args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("yoi pod: "), result.stderr
        assert "Traceback" not in result.stderr


def test_store_url_option_and_environment(yoi: YoiRunner, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    write_pod(other, tmp_path / "run", "far")
    assert yoi("pod", "list").stdout == "no pods\n"
    listed = yoi("pod", "--store", f"fs://{other}", "list", "--json").json()
    assert [pod["name"] for pod in listed["pods"]] == ["far"]
    by_env = yoi("pod", "list", "--json", env={"YOI_STORE": f"fs://{other}"}).json()
    assert [pod["name"] for pod in by_env["pods"]] == ["far"]


# ---- delete ---------------------------------------------------------------------------------


def test_delete_is_report_only_without_force_and_dry_run_wins(
    yoi: YoiRunner, data: Path, run: Path
) -> None:
    session, segment = make_session(data)
    write_pod(data, run, "alpha", session=session, segment=segment)
    for args in ((), ("--dry-run",), ("--force", "--dry-run")):
        result = yoi("pod", "delete", "alpha", *args)
        assert result.exit_code == 0
        assert result.stdout.splitlines() == [
            "yoi pod delete",
            "mode: dry-run",
            "pod: alpha",
            f"active_session: {session}",
            f"active_segment: {segment}",
            "would_delete: pod metadata",
            "would_preserve: session logs/history",
            "note: pass --force to delete metadata; --dry-run keeps report-only mode",
        ]
        assert metadata(data, "alpha").exists()


def test_force_deletes_stopped_pod_and_preserves_its_session(
    yoi: YoiRunner, data: Path, run: Path
) -> None:
    session, _segment = make_session(data, turns=2)
    write_pod(data, run, "alpha", session=session)
    before = {p.name: p.read_bytes() for p in session_dir(data, session).iterdir()}
    result = yoi("pod", "delete", "alpha", "--force")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "yoi pod delete",
        "mode: force",
        "pod: alpha",
        f"active_session: {session}",
        "active_segment: <pending>",
    ]
    assert "deleted: pod metadata" in lines
    assert "preserved: session logs/history" in lines
    assert re.fullmatch(r"reclaimed: [1-9][0-9]* B", lines[-1])
    assert not metadata(data, "alpha").exists()
    after = {p.name: p.read_bytes() for p in session_dir(data, session).iterdir()}
    assert after == before
    again = yoi("pod", "delete", "alpha", "--force")
    assert again.exit_code == 1
    assert "reason: pod metadata is missing" in again.stdout


def test_delete_reports_a_workers_tool_workspace_and_never_deletes_it(
    yoi: YoiRunner, data: Path, run: Path
) -> None:
    session, _segment = make_session(data)
    write_pod(data, run, "alpha", session=session)
    workspace = data / "workspaces" / "alpha"
    (workspace / "notes").mkdir(parents=True)
    (workspace / "notes" / "plan.md").write_text("the user's work\n", encoding="utf-8")
    dry = yoi("pod", "delete", "alpha")
    assert f"would_preserve: workspace {workspace}" in dry.stdout.splitlines()
    assert json.loads(yoi("pod", "delete", "alpha", "--json").stdout)["workspace"] == str(workspace)
    done = yoi("pod", "delete", "alpha", "--force")
    assert done.exit_code == 0, done.stderr
    assert f"preserved: workspace {workspace} (delete it by hand)" in done.stdout.splitlines()
    assert (workspace / "notes" / "plan.md").read_text(encoding="utf-8") == "the user's work\n"


def test_missing_pod_is_refused_in_every_mode(yoi: YoiRunner) -> None:
    for args in ((), ("--force",), ("--dry-run",)):
        result = yoi("pod", "delete", "ghost", *args)
        assert result.exit_code == 1
        assert result.stdout.splitlines() == [
            "yoi pod delete",
            "status: refused",
            "pod: ghost",
            "reason: pod metadata is missing",
        ]
    document = yoi("pod", "delete", "ghost", "--json").json()
    assert document["status"] == "refused"
    assert document["exit_code"] == 1


def test_live_pod_is_refused_even_with_force(
    yoi: YoiRunner, data: Path, run: Path, hosts: Hosts
) -> None:
    hosts.start("host", "rt-1", "alpha")
    for args in ((), ("--force",), ("--force", "--dry-run")):
        result = yoi("pod", "delete", "alpha", *args)
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert lines[:3] == ["yoi pod delete", "status: refused", "pod: alpha"]
        assert "reason: runtime 'rt-1' is live" in lines
        assert "runtime: rt-1" in lines
        assert f"socket: {run / 'runtimes' / 'rt-1' / 'sock'}" in lines
    assert metadata(data, "alpha").exists()
    document = yoi("pod", "delete", "alpha", "--force", "--json").json()
    assert document["liveness"]["state"] == "live"
    assert document["status"] == "refused"


def test_starting_pod_is_refused(yoi: YoiRunner, data: Path, run: Path, hosts: Hosts) -> None:
    write_pod(data, run, "alpha", runtime="rt-2")
    hosts.start("lock-only", "rt-2")
    result = yoi("pod", "delete", "alpha", "--force")
    assert result.exit_code == 1
    assert "starting" in result.stdout
    assert metadata(data, "alpha").exists()


def test_killed_host_leaves_a_stale_socket_that_counts_as_stopped(
    yoi: YoiRunner, data: Path, run: Path, hosts: Hosts
) -> None:
    process = hosts.start("host", "rt-3", "alpha")
    assert yoi("pod", "show", "alpha", "--json").json()["liveness"]["state"] == "live"
    hosts.kill(process)
    assert (run / "runtimes" / "rt-3" / "sock").exists()
    shown = yoi("pod", "show", "alpha", "--json").json()
    assert shown["liveness"]["state"] == "stopped"
    result = yoi("pod", "delete", "alpha", "--force")
    assert result.exit_code == 0, result.stdout
    assert not metadata(data, "alpha").exists()


def test_corrupt_metadata_is_shown_and_deletable(yoi: YoiRunner, data: Path, run: Path) -> None:
    write_pod(data, run, "broken")
    metadata(data, "broken").write_text('{"schema_version": 1, "pod_name": ')
    listed = yoi("pod", "list")
    assert listed.exit_code == 0
    assert "broken  corrupt" in listed.stdout
    assert "pods: 1 (corrupt: 1)" in listed.stdout
    shown = yoi("pod", "show", "broken")
    assert "status: corrupt" in shown.stdout
    assert "corrupt: not valid JSON" in shown.stdout
    dry = yoi("pod", "delete", "broken")
    assert dry.exit_code == 0
    assert "would_delete: pod metadata (corrupt)" in dry.stdout
    result = yoi("pod", "delete", "broken", "--force")
    assert result.exit_code == 0
    assert "corrupt: not valid JSON" in result.stdout
    assert "deleted: pod metadata (corrupt)" in result.stdout
    assert not metadata(data, "broken").exists()


def test_symlink_pointing_outside_the_store_is_removed_not_followed(
    yoi: YoiRunner, data: Path, run: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "metadata.json").write_text('{"schema_version": 1, "pod_name": "evil"}\n')
    (outside / "precious").write_text("keep me")
    write_pod(data, run, "good", age_seconds=OLD)
    (data / "pods" / "evil").symlink_to(outside)
    backdate(data / "pods" / "evil", OLD)
    listed = yoi("pod", "list", "--json").json()
    evil = next(pod for pod in listed["pods"] if pod["name"] == "evil")
    assert evil["status"] == "corrupt"
    pruned = yoi("pod", "prune", "--older-than", "1s", "--force")
    assert "refused: evil (pod metadata is corrupt" in pruned.stdout
    assert "deleted: good" in pruned.stdout
    result = yoi("pod", "delete", "evil", "--force")
    assert result.exit_code == 0
    assert not (data / "pods" / "evil").is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == ["metadata.json", "precious"]
    assert (outside / "precious").read_text() == "keep me"


# ---- list / show ---------------------------------------------------------------------------------


def test_list_and_show_report_status_liveness_and_activity(
    yoi: YoiRunner, data: Path, run: Path, hosts: Hosts
) -> None:
    session, segment = make_session(data)
    write_pod(data, run, "idle", session=session, segment=segment, age_seconds=3 * DAY)
    hosts.start("host", "rt-1", "busy")
    document = yoi("pod", "list", "--json").json()
    by_name = {pod["name"]: pod for pod in document["pods"]}
    assert list(by_name) == ["busy", "idle"]
    assert by_name["busy"]["liveness"]["state"] == "live"
    assert by_name["busy"]["hosting_runtime_id"] == "rt-1"
    assert by_name["idle"]["liveness"]["state"] == "stopped"
    assert by_name["idle"]["active_session"] == session
    assert by_name["idle"]["active_segment"] == segment
    assert by_name["idle"]["last_activity"] < by_name["busy"]["last_activity"]
    text = yoi("pod", "list").stdout.splitlines()
    assert text[0].split() == [
        "NAME",
        "STATUS",
        "LIVENESS",
        "RUNTIME",
        "ACTIVE_SESSION",
        "LAST_ACTIVITY",
    ]
    assert text[1].split()[:4] == ["busy", "-", "live", "rt-1"]
    shown = yoi("pod", "show", "idle")
    assert shown.exit_code == 0
    assert f"active_session: {session}" in shown.stdout
    assert "liveness: stopped (pod is not hosted by any runtime)" in shown.stdout
    live = yoi("pod", "show", "busy").stdout
    assert "hosting_runtime: rt-1" in live
    assert "socket: " in live
    missing = yoi("pod", "show", "ghost")
    assert missing.exit_code == 1
    assert missing.stderr == "yoi pod: pod ghost: pod metadata is missing\n"
    assert not (data / "pods" / ".locks" / "ghost.lock").exists()


# ---- prune ---------------------------------------------------------------------------------------


def test_prune_uses_the_explicit_threshold_and_refuses_live_pods(
    yoi: YoiRunner, data: Path, run: Path, hosts: Hosts
) -> None:
    session, _ = make_session(data, age_seconds=OLD)
    write_pod(data, run, "ancient", session=session, age_seconds=OLD)
    write_pod(data, run, "recent", age_seconds=DAY)
    hosts.start("host", "rt-1", "live-old")
    backdate(metadata(data, "live-old"), OLD)
    dry = yoi("pod", "prune", "--older-than", "30d")
    assert dry.exit_code == 1
    assert dry.stdout.splitlines() == [
        "yoi pod prune",
        "mode: dry-run",
        "older_than: 30d",
        f"would_delete: ancient (old metadata; active_session={session})",
        "refused: live-old (runtime 'rt-1' is live)",
        "kept: recent (metadata is newer than threshold)",
        "summary: deleted=0 would_delete=1 kept=1 refused=1 failed=0 (0 B to reclaim)",
        "note: pass --force to delete metadata; --dry-run keeps report-only mode",
    ]
    assert metadata(data, "ancient").exists()
    forced = yoi("pod", "prune", "--older-than", "30d", "--force")
    assert forced.exit_code == 1
    assert "deleted: ancient (old pod metadata; session logs/history preserved)" in forced.stdout
    assert "refused: live-old (runtime 'rt-1' is live)" in forced.stdout
    assert "summary: deleted=1 would_delete=0 kept=1 refused=1 failed=0" in forced.stdout
    assert "note:" not in forced.stdout
    assert not metadata(data, "ancient").exists()
    assert metadata(data, "live-old").exists()
    assert metadata(data, "recent").exists()
    assert session_dir(data, session).exists()
    quiet = yoi("pod", "prune", "--older-than", "365d", "--force")
    assert quiet.exit_code == 0
    assert "kept: recent" in quiet.stdout


def test_prune_reports_corrupt_records_and_goes_on(yoi: YoiRunner, data: Path, run: Path) -> None:
    write_pod(data, run, "a-old", age_seconds=OLD)
    write_pod(data, run, "b-broken")
    metadata(data, "b-broken").write_text("[]")
    backdate(metadata(data, "b-broken"), OLD)
    write_pod(data, run, "c-old", age_seconds=OLD)
    result = yoi("pod", "prune", "--older-than", "1d", "--force")
    assert result.exit_code == 1
    assert "deleted: a-old" in result.stdout
    assert "deleted: c-old" in result.stdout
    assert "refused: b-broken (pod metadata is corrupt (expected a JSON object" in result.stdout
    assert metadata(data, "b-broken").exists()


def test_bounded_report_never_hides_refusals_or_deletions(
    yoi: YoiRunner, data: Path, run: Path, hosts: Hosts
) -> None:
    for index in range(70):
        write_pod(data, run, f"a{index:03d}", age_seconds=DAY)
    for index in range(5):
        write_pod(data, run, f"m-old{index}", age_seconds=OLD)
    hosts.start("host", "rt-1", *(f"z-live{index}" for index in range(3)))
    for index in range(3):
        backdate(metadata(data, f"z-live{index}"), OLD)
    result = yoi("pod", "prune", "--older-than", "7d")
    lines = result.stdout.splitlines()
    assert sum(line.startswith("kept: ") for line in lines) == 50
    assert "... 20 kept items omitted from bounded report (use --json for all) ..." in lines
    assert sum(line.startswith("would_delete: ") for line in lines) == 5
    assert sum(line.startswith("refused: z-live") for line in lines) == 3
    assert "summary: deleted=0 would_delete=5 kept=70 refused=3" in result.stdout
    document = yoi("pod", "prune", "--older-than", "7d", "--json").json()
    assert len(document["items"]) == 78
    assert document["summary"]["kept"] == 70
    assert document["exit_code"] == 1
    assert {item["action"] for item in document["items"]} == {"kept", "would_delete", "refused"}


def test_pod_claimed_during_a_prune_is_never_deleted(
    yoi: YoiRunner, yoi_env: dict[str, str], data: Path, run: Path, hosts: Hosts
) -> None:
    import subprocess

    from conftest import YOI

    names = [f"p{index:03d}" for index in range(150)]
    for name in names:
        write_pod(data, run, name, age_seconds=OLD)
    host = hosts.start("claim-on-go", "rt-race", *reversed(names))
    prune = subprocess.Popen(
        [YOI, "pod", "prune", "--older-than", "1d", "--force", "--json"],
        env=yoi_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    # Start claiming once the prune is under way, from the other end of the list.
    wait_until(lambda: sum(1 for n in names if not metadata(data, n).exists()) > 0)
    assert host.stdin is not None and host.stdout is not None
    host.stdin.write("go\n")
    host.stdin.flush()
    out, _ = prune.communicate(timeout=120)
    claimed = []
    for line in iter(host.stdout.readline, ""):
        if line.strip() == "done":
            break
        claimed.append(line.strip())
    report = json.loads(out)
    actions = {item["id"]: item["action"] for item in report["items"]}
    assert claimed, "the host claimed nothing"
    for name in claimed:
        record = json.loads(metadata(data, name).read_text())
        assert record["hosting_runtime_id"] == "rt-race"
    refused = [name for name, action in actions.items() if action == "refused"]
    assert all(name in claimed for name in refused)
    assert report["summary"]["deleted"] + len(refused) + report["summary"]["kept"] == len(names)


def test_a_prune_killed_at_any_moment_leaves_only_pods_that_are_listed_and_pruned(
    yoi: YoiRunner, yoi_env: dict[str, str], data: Path, run: Path
) -> None:
    """SIGKILL a forced prune right after its n-th deletion line, many times: every Pod
    directory left behind holds a record (so `pod list` shows it and a prune removes it)."""
    import signal
    import subprocess

    from conftest import YOI
    from yoi_pod_store.backends.fs import FsPodStore

    rounds = 30
    for index in range(rounds * 4):
        write_pod(data, run, f"k{index:04d}", age_seconds=OLD)
    pods = data / "pods"
    store = FsPodStore(data, run)
    for round_ in range(rounds):
        prune = subprocess.Popen(
            [YOI, "pod", "prune", "--older-than", "1d", "--force"],
            env=yoi_env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert prune.stdout is not None
        deletions = 0
        for line in prune.stdout:
            deletions += line.startswith("deleted: ")
            if deletions > round_ % 3:  # killed during the next delete, or just after it
                break
        prune.send_signal(signal.SIGKILL)
        prune.communicate(timeout=60)
        assert deletions, "the prune deleted nothing before it was killed"
        directories = sorted(entry.name for entry in pods.iterdir() if entry.name[0] != ".")
        listed = [listing.name for listing in store.list_pods()]  # what `yoi pod list` shows
        assert listed == directories, f"round {round_}: a Pod directory no command lists"
    finished = yoi("pod", "prune", "--older-than", "1d", "--force")
    assert finished.exit_code == 0
    assert yoi("pod", "list", "--json").json() == {"pods": []}
    assert [entry.name for entry in pods.iterdir() if entry.name != ".locks"] in ([], [".deleted"])
    assert not any((pods / ".deleted").glob("*"))
