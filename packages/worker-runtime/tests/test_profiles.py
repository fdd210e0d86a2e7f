"""Runtime configuration: profiles from TOML, checked when the Runtime starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from yoi_worker_runtime import Runtime
from yoi_worker_runtime.profiles import ConfigError, load_config, parse_config

GOOD = """
default_profile = "local"
allow_tools = ["read_file"]

[profiles.local]
engine = "echo"
model = "tiny"
base_url = "http://127.0.0.1:8080/v1"
api_key_env = "LOCAL_KEY"
temperature = 0
max_output_tokens = 64
timeout = 30
context_budget = 2000
max_retries = 1
max_steps = 3
options = { chunks = 5, chunk_delay_ms = 10 }
"""


def test_a_full_profile_reads_every_key(tmp_path: Path) -> None:
    path = tmp_path / "yoi.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert (config.default_profile, config.allow_tools) == ("local", ("read_file",))
    profile = config.profiles["local"]
    assert (profile.engine, profile.context_budget, profile.max_steps) == ("echo", 2000, 3)
    settings = profile.settings
    assert (settings.model, settings.base_url, settings.api_key_env) == (
        "tiny",
        "http://127.0.0.1:8080/v1",
        "LOCAL_KEY",
    )
    assert (settings.temperature, settings.max_output_tokens) == (0.0, 64)
    assert (settings.timeout, settings.max_retries) == (30.0, 1)
    assert settings.options == {"chunks": 5, "chunk_delay_ms": 10}
    assert config.default() is profile


def test_without_configuration_the_default_is_echo() -> None:
    config = parse_config({})
    assert config.default().engine == "echo"
    assert config.known_profiles() == ["echo", "none"]


def profile(**keys: object) -> dict[str, object]:
    """A configuration with one profile ``a`` of the echo engine plus ``keys``."""
    return {"profiles": {"a": {"engine": "echo", **keys}}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"profile": {}}, "unknown key 'profile'"),
        (
            profile(modle="x"),
            r"\[profiles.a\]: unknown key 'modle'",
        ),
        ({"profiles": {"a": {"model": "x"}}}, "the key 'engine' is required"),
        (profile(timeout=0), "timeout must be more than 0"),
        (profile(timeout="5"), "timeout must be a number"),
        (
            profile(max_steps=0),
            "max_steps must be an integer >= 1",
        ),
        (profile(max_steps=2.5), "max_steps must be an integer"),
        (profile(temperature=-1), "temperature must be"),
        (profile(options=3), "options must be a table"),
        ({"profiles": {"a": {"engine": " "}}}, "engine must be a non-blank string"),
        ({"profiles": {"echo": {"engine": "echo"}}}, "would hide the built-in profile"),
        ({"default_profile": "missing"}, "default profile 'missing' is not defined"),
        ({"allow_tools": "read_file"}, "allow_tools must be a list"),
    ],
)
def test_a_bad_configuration_names_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, source="yoi.toml")


def test_unreadable_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[profiles.a\nengine=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_an_engine_that_is_not_installed_or_a_bad_option_stops_the_runtime_opening() -> None:
    with pytest.raises(ConfigError, match="engine 'nonesuch', which is not installed"):
        Runtime.open(config=parse_config({"profiles": {"a": {"engine": "nonesuch"}}}))
    bad_option = profile(options={"chunk": 2})
    with pytest.raises(ConfigError, match="profile 'a': unknown echo option 'chunk'"):
        Runtime.open(config=parse_config(bad_option))
