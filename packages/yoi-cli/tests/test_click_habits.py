"""The habits of click tools: -h everywhere, `yoi help`, `python -m yoi_cli`, shell completion,
and arguments that are not UTF-8 refused as bad usage, all through real subprocesses."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import YOI, YoiRunner


def _subcommands(help_text: str) -> list[str]:
    """The names in the `Commands:` section of a click group's help."""
    lines = help_text.split("Commands:\n", 1)[1].splitlines() if "Commands:" in help_text else []
    return [line.split()[0] for line in lines if line.startswith("  ") and line.split()]


def test_minus_h_is_help_on_every_command(yoi: YoiRunner) -> None:
    pending: list[tuple[str, ...]] = [
        ("pod",),
        ("session",),
        ("plugins",),
        ("runtime",),
        ("worker",),
    ]
    seen = 0
    while pending:
        path = pending.pop()
        result = yoi(*path, "-h")
        assert result.exit_code == 0, (path, result.stderr)
        assert result.stderr == ""
        assert result.stdout.startswith(f"Usage: yoi {' '.join(path)} "), path
        assert result.stdout == yoi(*path, "--help").stdout
        pending += [(*path, name) for name in _subcommands(result.stdout)]
        seen += 1
    assert seen >= 20  # the groups and every subcommand of each
    assert yoi("-h").stdout == yoi("--help").stdout


def test_yoi_help_command_shows_a_commands_help(yoi: YoiRunner) -> None:
    assert yoi("help").stdout == yoi("--help").stdout
    assert yoi("help", "pod", "prune").stdout == yoi("pod", "prune", "--help").stdout
    assert yoi("help", "session").stdout == yoi("session", "-h").stdout
    unknown = yoi("help", "pod", "frobnicate")
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert "yoi: unknown command `yoi pod frobnicate`" in unknown.stderr


def test_python_dash_m_runs_yoi(yoi_env: dict[str, str]) -> None:
    for args in (["--version"], ["--help"], ["plugins", "--json"]):
        module = subprocess.run(
            [sys.executable, "-m", "yoi_cli", *args], env=yoi_env, capture_output=True, text=True
        )
        script = subprocess.run([YOI, *args], env=yoi_env, capture_output=True, text=True)
        assert module.returncode == script.returncode == 0
        assert module.stdout == script.stdout


def _complete(yoi_env: dict[str, str], shell: str, words: str, cword: int) -> str:
    env = {**yoi_env, "_YOI_COMPLETE": f"{shell}_complete", "COMP_WORDS": words}
    env["COMP_CWORD"] = str(cword) if shell != "fish" else words.split(" ")[-1]
    completed = subprocess.run([YOI], env=env, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_shell_completion_for_bash_zsh_and_fish(yoi_env: dict[str, str]) -> None:
    source = subprocess.run(
        [YOI], env={**yoi_env, "_YOI_COMPLETE": "bash_source"}, capture_output=True, text=True
    )
    assert "_yoi_completion" in source.stdout and "complete " in source.stdout
    assert _complete(yoi_env, "bash", "yoi po", 1).splitlines() == ["plain,pod"]
    assert _complete(yoi_env, "bash", "yoi pod pr", 2).splitlines() == ["plain,prune"]
    options = _complete(yoi_env, "bash", "yoi session prune --un", 3).splitlines()
    assert options == ["plain,--unreferenced"]
    # zsh and fish also show each command's summary, taken from the registry.
    zsh = _complete(yoi_env, "zsh", "yoi pl", 1).splitlines()
    assert zsh[:3] == ["plain", "plugins", zsh[2]] and "plugins" in zsh[2].lower()
    fish = _complete(yoi_env, "fish", "yoi se", 1)
    assert fish.startswith("plain,session\t") and "session" in fish.split("\t", 1)[1]


@pytest.mark.parametrize(
    "args",
    [
        [b"worker", b"input", b"w", b"caf\xe9"],
        [b"runtime", b"serve", b"--display-name", b"bad\xff"],
        [b"session", b"show", b"\xff"],
        [b"pod", b"--store", b"fs:///tmp/\xe9", b"list"],
    ],
)
def test_arguments_that_are_not_utf8_are_a_one_line_usage_error(
    yoi_env: dict[str, str], args: list[bytes]
) -> None:
    completed = subprocess.run([YOI.encode(), *args], env=yoi_env, capture_output=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stdout == b""
    bad = next(arg for arg in args if not arg.isascii())
    shown = bad.decode("ascii", "backslashreplace").encode()
    assert completed.stderr == b"yoi: argument `" + shown + b"` is not valid UTF-8\n"
