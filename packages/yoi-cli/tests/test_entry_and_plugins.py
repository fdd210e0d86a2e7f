"""The ``yoi`` entry point, its plugin registry and the third-party plugin path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import YoiRunner


def test_help_lists_builtin_commands_on_stdout(yoi: YoiRunner) -> None:
    for args in ((), ("--help",), ("-h",)):
        result = yoi(*args)
        assert result.exit_code == 0
        assert result.stderr == ""
        assert result.stdout.startswith("usage: yoi")
        assert "plugins" in result.stdout
        assert "YOI_DATA_DIR" in result.stdout


def test_unknown_command_is_a_usage_error(yoi: YoiRunner) -> None:
    result = yoi("frobnicate")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "yoi: unknown command `frobnicate`" in result.stderr
    assert "yoi --help" in result.stderr


def test_unknown_top_level_option_is_a_usage_error(yoi: YoiRunner) -> None:
    result = yoi("--frobnicate")
    assert result.exit_code == 2
    assert "unknown option `--frobnicate`" in result.stderr


def test_subcommand_help_goes_to_stdout(yoi: YoiRunner) -> None:
    result = yoi("plugins", "--help")
    assert result.exit_code == 0
    assert "--json" in result.stdout
    assert result.stderr == ""


def test_subcommand_bad_option_names_the_option(yoi: YoiRunner) -> None:
    result = yoi("plugins", "--bogus")
    assert result.exit_code == 2
    assert "--bogus" in result.stderr
    assert "yoi plugins --help" in result.stderr


def test_help_does_not_import_heavy_modules(yoi_env: dict[str, str]) -> None:
    probe = textwrap.dedent(
        """
        import contextlib, io, json, sys
        from yoi_cli.main import run
        with contextlib.redirect_stdout(io.StringIO()):
            assert run(["--help"]) == 0
        heavy = ("click", "attrs", "cattrs", "starlette", "uvicorn", "tqdm", "yoi_pod_store",
                 "yoi_session_store", "yoi_worker_runtime")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )

    def imported(env: dict[str, str]) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
        ).stdout
        modules: list[str] = json.loads(out)
        return modules

    assert imported({**yoi_env, "YOI_DISABLE_PLUGIN_AUTOLOAD": "1"}) == []
    # A third-party plugin may import the cheap registry modules its hooks need, nothing more.
    assert set(imported(yoi_env)) <= {"yoi_session_store", "yoi_session_store.plugins"}


@pytest.mark.without_feature("runtime")
def test_plugins_lists_builtins_with_distribution_and_version(yoi: YoiRunner) -> None:
    document = yoi("plugins", "--json", env={"YOI_DISABLE_PLUGIN_AUTOLOAD": "1"}).json()
    by_distribution = {plugin["distribution"]: plugin for plugin in document["plugins"]}
    assert set(by_distribution) == {"yoi-cli", "yoi-pod-store", "yoi-session-store"}
    registers = {
        (item["kind"], item["name"])
        for plugin in document["plugins"]
        for item in plugin["registers"]
    }
    assert ("cli_command", "plugins") in registers
    assert {("pod_store_backend", "fs"), ("pod_store_backend", "memory")} <= registers
    assert {("session_store_backend", "fs"), ("session_store_backend", "memory")} <= registers
    assert all(plugin["version"] == "0.1.0" for plugin in document["plugins"])


@pytest.mark.feature("runtime")
def test_with_the_runtime_plugins_also_lists_its_engines(yoi: YoiRunner) -> None:
    document = yoi("plugins", "--json", env={"YOI_DISABLE_PLUGIN_AUTOLOAD": "1"}).json()
    runtime = next(p for p in document["plugins"] if p["distribution"] == "yoi-worker-runtime")
    assert runtime["name"] == "yoi-worker-runtime:builtin"
    assert [(item["kind"], item["name"]) for item in runtime["registers"]] == [
        ("engine", "echo"),
        ("engine", "none"),
    ]
    assert "  engine: echo" in yoi("plugins").stdout


def test_third_party_plugin_adds_a_command_and_a_backend(yoi: YoiRunner) -> None:
    document = yoi("plugins", "--json").json()
    example = next(p for p in document["plugins"] if p["distribution"] == "yoi-example-plugin")
    assert example["version"] == "1.2.3"
    assert {(item["kind"], item["name"]) for item in example["registers"]} == {
        ("cli_command", "example-hello"),
        ("session_store_backend", "example"),
    }
    assert "example-hello" in yoi("--help").stdout

    result = yoi("example-hello", "world", "--store", "example:demo")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "hello world"
    assert "sessions=0" in result.stdout

    text = yoi("plugins").stdout
    assert "yoi-example-plugin 1.2.3" in text
    assert "session store backend: example" in text


def test_disabling_autoload_hides_third_party_plugins(yoi: YoiRunner) -> None:
    env = {"YOI_DISABLE_PLUGIN_AUTOLOAD": "1"}
    assert "example-hello" not in yoi("--help", env=env).stdout
    result = yoi("example-hello", "world", env=env)
    assert result.exit_code == 2
    assert "unknown command `example-hello`" in result.stderr


def _fake_distribution(root: Path, name: str, entry_points: str, module: str) -> None:
    """Lay out an installed distribution (dist-info + module) the way an installer would."""
    dist_info = root / f"{name.replace('-', '_')}-9.9.9.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 9.9.9\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    (root / f"{name.replace('-', '_')}.py").write_text(module, encoding="utf-8")


def test_two_commands_of_one_name_fail_naming_both_distributions(
    yoi: YoiRunner, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "clashing-commands",
        "[yoi.cli]\nclash = clashing_commands\n",
        textwrap.dedent(
            """
            from yoi_cli.plugins import CommandSpec, hookimpl

            @hookimpl
            def yoi_cli_commands():
                return [CommandSpec("plugins", "a second plugins command", "x:y")]
            """
        ),
    )
    result = yoi("--help", env={"PYTHONPATH": str(site)})
    assert result.exit_code == 1
    assert "'plugins'" in result.stderr
    assert "yoi-cli" in result.stderr
    assert "clashing-commands" in result.stderr


def test_two_backends_of_one_scheme_fail_naming_both_distributions(
    yoi: YoiRunner, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "clashing-backend",
        "[yoi.pod_store]\nclash = clashing_backend\n",
        textwrap.dedent(
            """
            from yoi_pod_store.plugins import PodStoreBackend, hookimpl

            @hookimpl
            def yoi_pod_store_backends():
                return [PodStoreBackend("memory", "a second memory backend", lambda url: None)]
            """
        ),
    )
    result = yoi("plugins", env={"PYTHONPATH": str(site)})
    assert result.exit_code == 1
    assert "'memory'" in result.stderr
    assert "yoi-pod-store" in result.stderr
    assert "clashing-backend" in result.stderr


def test_plugins_lists_every_installed_extension_point(yoi: YoiRunner, tmp_path: Path) -> None:
    # As worker-runtime's engines will: a package declares a point in a few lines and names it
    # in the yoi.extension_points group; `yoi plugins` lists it with no change to yoi-cli.
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "yoi-engines",
        "[yoi.extension_points]\nworker_engine = yoi_engines:ENGINES\n",
        textwrap.dedent(
            """
            import pluggy
            from yoi_base.registry import ExtensionPoint

            hookspec = pluggy.HookspecMarker("yoi.test_engine")
            hookimpl = pluggy.HookimplMarker("yoi.test_engine")

            class EngineSpec:
                @hookspec
                def yoi_test_engines(self): ...

            @hookimpl
            def yoi_test_engines():
                return ["none", "echo"]

            ENGINES = ExtensionPoint(
                group="yoi.test_engine", hookspecs=EngineSpec, hook="yoi_test_engines",
                kind="worker_engine", key=str, distribution="yoi-engines",
                builtins={"builtin": "yoi_engines"},
            )
            """
        ),
    )
    env = {"PYTHONPATH": str(site), "YOI_DISABLE_PLUGIN_AUTOLOAD": "1"}
    text = yoi("plugins", env=env).stdout
    assert "yoi-engines 9.9.9  [yoi-engines:builtin]\n  worker engine: echo\n" in text
    document = yoi("plugins", "--json", env=env).json()
    [engines] = [p for p in document["plugins"] if p["distribution"] == "yoi-engines"]
    assert engines["registers"] == [
        {"kind": "worker_engine", "name": "echo"},
        {"kind": "worker_engine", "name": "none"},
    ]


def test_a_reader_that_goes_away_gets_no_traceback(yoi_env: dict[str, str]) -> None:
    # As with `yoi plugins | head -1`: the pipe closes before yoi writes.
    from conftest import YOI

    process = subprocess.Popen(
        [YOI, "--help"], env=yoi_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in stderr
