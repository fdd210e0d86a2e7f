"""``yoi worker ...`` against a real ``yoi runtime serve`` process."""

from __future__ import annotations

import json
import subprocess
import time
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
    assert yoi("worker", "input", "rev", "please start", env=env).stdout.startswith(
        "accepted as entry 1"
    )
    assert yoi("worker", "input", "rev", "--system", "be brief", env=env).exit_code == 0
    text = yoi("worker", "transcript", "rev", env=env).stdout.splitlines()
    assert text[0].startswith("[1] ") and text[0].endswith(" user: please start")
    assert text[1].endswith(" system: be brief")
    page = yoi("worker", "transcript", "rev", "--json", "--limit", "1", env=env).json()
    assert page["next_start"] == 1 and page["items"][0]["content"] == "please start"
    listing = yoi("worker", "list", "--json", env=env).json()
    assert [worker["worker_id"] for worker in listing["workers"]] == ["rev"]
    assert "task: review the PR" in yoi("worker", "list", env=env).stdout
    detail = yoi("worker", "show", "rev", "--json", env=env).json()
    assert detail["transcript_len"] == 2 and detail["status"] == "running"
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
        "builtin:careful", "--capability", "shell:run tests", "--json", env=env,
    ).json()  # fmt: skip
    assert role["intent"] == {"kind": "role", "role": "reviewer", "purpose": "quality"}
    assert role["profile"] == {"kind": "builtin", "value": "careful"}
    assert role["requested_capabilities"] == [{"name": "shell", "reason": "run tests"}]
    assert role["worker_id"].startswith("worker-")
    bad = yoi("worker", "create", "--profile", "weird", env=env)
    assert bad.exit_code == 2 and "--profile" in bad.stderr


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
    yoi("worker", "input", "live", "first", env=env)
    follower = subprocess.Popen(
        [YOI, "worker", "transcript", "live", "--follow", "--json", "--timeout", "30"],
        env={**yoi_env, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    yoi("worker", "input", "live", "second", env=env)
    yoi("worker", "stop", "live", env=env)
    output, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0
    assert [json.loads(line)["content"] for line in output.splitlines()] == ["first", "second"]
