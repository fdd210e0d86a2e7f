"""``yoi worker ...`` against a real ``yoi runtime serve`` process."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import YOI, YoiRunner
from test_runtime_serve import serving

pytestmark = pytest.mark.feature("runtime")

TOKEN = "worker-cli-token"


@pytest.fixture
def runtime_env(yoi_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A memory Runtime requiring a token; the env that points ``yoi worker`` at it."""
    with serving(
        {**yoi_env, "SERVE_TOKEN": TOKEN}, "--store", "memory", "--local-token-env", "SERVE_TOKEN"
    ) as (_, ready):
        yield {"YOI_RUNTIME_URL": ready["url"], "YOI_RUNTIME_TOKEN": TOKEN}


def test_create_input_transcript_walk_through(yoi: YoiRunner, runtime_env: dict[str, str]) -> None:
    env = runtime_env
    created = yoi("worker", "create", "--name", "rev", "--task", "review the PR", env=env)
    assert created.exit_code == 0, created.stderr
    assert created.stdout.startswith("created worker rev in runtime ")
    # The default profile's echo engine answers each input; --wait prints the reply.
    answered = yoi("worker", "input", "rev", "please start", "--wait", env=env)
    assert (answered.exit_code, answered.stdout) == (0, "echo: please start\n")
    accepted = yoi("worker", "input", "rev", "--system", "be brief", env=env)
    assert accepted.stdout.startswith("accepted as entry 3 (event ") and " turn turn-" in (
        accepted.stdout
    )
    shown = yoi("worker", "show", "rev", env=env).stdout
    assert "usage       " in shown
    yoi("worker", "input", "rev", "and now?", "--wait", env=env)  # queued behind the second
    text = yoi("worker", "transcript", "rev", env=env).stdout.splitlines()
    assert text[0].startswith("[1] ") and text[0].endswith(" user: please start")
    assert text[1].endswith(" assistant: echo: please start")
    assert text[2].endswith(" system: be brief")
    assert text[3].endswith(" assistant: echo: be brief")
    page = yoi("worker", "transcript", "rev", "--json", "--limit", "1", env=env).json()
    assert page["next_start"] == 1 and page["items"][0]["content"] == "please start"
    listing = yoi("worker", "list", "--json", env=env).json()
    assert [worker["worker_id"] for worker in listing["workers"]] == ["rev"]
    assert "task: review the PR" in yoi("worker", "list", env=env).stdout
    detail = yoi("worker", "show", "rev", "--json", env=env).json()
    assert detail["transcript_len"] == 6 and detail["status"] == "running"
    assert detail["turn"] == {"state": "idle", "turn_id": None, "started_at": None, "queued": 0}
    assert (
        yoi("worker", "stop", "rev", "--reason", "done", env=env).stdout == "worker rev stopped\n"
    )
    again = yoi("worker", "cancel", "rev", env=env)
    assert "already stopped; nothing changed" in again.stdout
    refused = yoi("worker", "input", "rev", "too late", env=env)
    assert refused.exit_code == 1
    assert "rev is not running (worker_not_running)" in refused.stderr
    kinds = [
        json.loads(line)["kind"]
        for line in yoi(
            "worker", "events", "--follow", "--timeout", "0.5", "--json", env=env
        ).stdout.splitlines()
    ]
    assert kinds[:3] == ["runtime_started", "worker_created", "worker_input_accepted"]
    assert kinds[-1] == "worker_stopped"


def test_create_flags_build_the_request(yoi: YoiRunner, runtime_env: dict[str, str]) -> None:
    env = runtime_env
    role = yoi(
        "worker", "create", "--role", "reviewer", "--purpose", "quality", "--profile",
        "builtin:none", "--json", env=env,
    ).json()  # fmt: skip
    assert role["intent"] == {"kind": "role", "role": "reviewer", "purpose": "quality"}
    assert role["profile"] == {"kind": "builtin", "value": "none"}
    assert role["worker_id"].startswith("worker-")
    bad = yoi("worker", "create", "--profile", "weird", env=env)
    assert bad.exit_code == 2 and "--profile" in bad.stderr
    # A profile or tool this Runtime lacks is refused, naming what exists.
    unknown = yoi("worker", "create", "--profile", "builtin:careful", env=env)
    assert unknown.exit_code == 1 and "known profiles: echo, none (unknown_profile)" in (
        unknown.stderr
    )
    tool = yoi("worker", "create", "--capability", "shell:run tests", env=env)
    assert tool.exit_code == 1 and "no tool named 'shell'" in tool.stderr


def test_errors_without_url_token_or_server(
    yoi: YoiRunner, runtime_env: dict[str, str], tmp_path: Path
) -> None:
    no_url = yoi("worker", "list")
    assert no_url.exit_code == 2 and "YOI_RUNTIME_URL" in no_url.stderr
    no_token = yoi("worker", "list", env={"YOI_RUNTIME_URL": runtime_env["YOI_RUNTIME_URL"]})
    assert no_token.exit_code == 1
    assert "missing or invalid local Runtime bearer token (unauthorized)" in no_token.stderr
    missing = yoi("worker", "show", "ghost", env=runtime_env)
    assert missing.exit_code == 1 and "(worker_not_found)" in missing.stderr
    gone = yoi("worker", "--url", "http://127.0.0.1:9", "list")
    assert gone.exit_code == 1 and "cannot reach the Runtime" in gone.stderr


def test_transcript_follow_streams_new_entries_until_the_worker_stops(
    yoi: YoiRunner, yoi_env: dict[str, str], runtime_env: dict[str, str]
) -> None:
    env = runtime_env
    yoi("worker", "create", "--name", "live", env=env)
    yoi("worker", "input", "live", "first", "--wait", env=env)
    follower = subprocess.Popen(
        [YOI, "worker", "transcript", "live", "--follow", "--json", "--timeout", "30"],
        env={**yoi_env, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    lines = [follower.stdout.readline() for _ in range(2)]  # what was there: it is following
    yoi("worker", "input", "live", "second", "--wait", env=env)
    yoi("worker", "stop", "live", env=env)
    output, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0
    contents = [json.loads(line)["content"] for line in [*lines, *output.splitlines()]]
    assert contents == ["first", "echo: first", "second", "echo: second"]


def test_input_wait_reports_a_failed_turn_on_stderr_with_exit_1(
    yoi: YoiRunner, yoi_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "yoi.toml"
    config.write_text(
        '[profiles.broken]\nengine = "echo"\noptions = { fail_with = "engine_auth" }\n'
    )
    with serving(yoi_env, "--store", "memory", "--config", str(config)) as (_, ready):
        env = {"YOI_RUNTIME_URL": ready["url"]}
        yoi("worker", "create", "--name", "b", "--profile", "named:broken", env=env)
        failed = yoi("worker", "input", "b", "hello", "--wait", env=env)
    assert failed.exit_code == 1
    assert failed.stdout == ""
    assert failed.stderr.strip() == "yoi: turn failed: engine_auth"


def test_interrupt_ends_a_running_turn_and_says_so_when_idle(
    yoi: YoiRunner, yoi_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "yoi.toml"
    config.write_text(
        # A minute-long turn: only the interrupt ends it, however slow the commands start.
        '[profiles.slow]\nengine = "echo"\noptions = { chunks = 600, chunk_delay_ms = 100 }\n'
    )
    with serving(yoi_env, "--store", "memory", "--config", str(config)) as (_, ready):
        env = {"YOI_RUNTIME_URL": ready["url"]}
        yoi("worker", "create", "--name", "s", "--profile", "named:slow", env=env)
        ack = yoi("worker", "input", "s", "a long answer", "--json", env=env).json()
        interrupted = yoi("worker", "interrupt", "s", env=env)
        assert interrupted.stdout == f"turn {ack['turn_id']} interrupted\n"
        idle = yoi("worker", "interrupt", "s", "--json", env=env).json()
        assert (idle["changed"], idle["turn_id"]) == (False, None)
        assert yoi("worker", "interrupt", "s", env=env).stdout == (
            "worker s is idle; nothing to interrupt\n"
        )


def test_chat_prints_replies_as_they_stream_and_leaves_on_end_of_input(
    yoi_env: dict[str, str], runtime_env: dict[str, str]
) -> None:
    env = {**yoi_env, **runtime_env}
    subprocess.run([YOI, "worker", "create", "--name", "pal"], env=env, check=True)
    done = subprocess.run(
        [YOI, "worker", "chat", "pal"],
        input="hello there\nsecond line\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["echo: hello there", "echo: second line", ""]


def test_terminal_control_characters_in_replies_are_shown_escaped(
    yoi: YoiRunner, runtime_env: dict[str, str]
) -> None:
    env = runtime_env
    yoi("worker", "create", "--name", "esc", env=env)
    answer = yoi("worker", "input", "esc", "\x1b]0;pwned\x07 clear\x1b[2J", "--wait", env=env)
    # Not a terminal here: the reply is printed as it is, for pipes and scripts.
    assert answer.stdout == "echo: \x1b]0;pwned\x07 clear\x1b[2J\n"


def _on_a_terminal(args: list[str], env: dict[str, str]) -> bytes:
    """What ``args`` writes to stdout when stdout is a terminal (a pseudo-terminal here)."""
    controller, terminal = os.openpty()
    process = subprocess.Popen(args, env=env, stdout=terminal, stderr=subprocess.DEVNULL)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=30) == 0
    return output


def test_on_a_terminal_control_characters_cannot_drive_it(
    yoi: YoiRunner, yoi_env: dict[str, str], runtime_env: dict[str, str]
) -> None:
    env = runtime_env
    yoi("worker", "create", "--name", "esc", env=env)
    yoi("worker", "input", "esc", "\x1b]0;pwned\x07 clear\x1b[2J\x7f", "--wait", env=env)
    screen = _on_a_terminal([YOI, "worker", "transcript", "esc"], {**yoi_env, **env})
    assert b"\x1b" not in screen and b"\x07" not in screen and b"\x7f" not in screen
    assert b"echo: \\x1b]0;pwned\\x07 clear\\x1b[2J\\x7f" in screen
