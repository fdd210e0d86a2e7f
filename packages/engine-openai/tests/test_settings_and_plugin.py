"""The engine is found through its entry point alone, and bad settings fail when it is created."""

from __future__ import annotations

from typing import Any

import pytest
from yoi_base.registry import registry
from yoi_engine_openai.engine import OpenAIEngine
from yoi_engine_openai.options import OpenAIOptions, parse_options
from yoi_worker_runtime.engines import EngineConfigError, EngineSettings, engine_providers
from yoi_worker_runtime.engines.plugins import ENGINES


def test_the_openai_engine_is_registered_by_this_distribution() -> None:
    provider = engine_providers()["openai"]
    assert registry(ENGINES).registered["openai"].distribution == "yoi-engine-openai"
    assert provider.create is not None
    engine = provider.create(EngineSettings(model="m", base_url="http://127.0.0.1:9/v1"))
    assert isinstance(engine, OpenAIEngine)


def test_autoload_disabled_hides_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOI_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "openai" not in engine_providers()


def create(**settings: Any) -> object:
    create = engine_providers()["openai"].create
    assert create is not None
    return create(EngineSettings(**settings))


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "needs a model"),
        ({"model": ""}, "needs a model"),
        ({"model": "m", "base_url": "ftp://host/v1"}, "not ftp URL"),
        ({"model": "m", "base_url": "localhost:8080"}, "http:// or https://"),
        ({"model": "m", "options": {"tool_choise": "auto"}}, "unknown openai option 'tool_choise'"),
        ({"model": "m", "options": {"tool_choice": "always"}}, "got 'always'"),
        ({"model": "m", "options": {"tool_choice": {"name": "x"}}}, "as a table must be"),
        ({"model": "m", "options": {"stop": ["", "x"]}}, "option stop must be"),
        ({"model": "m", "options": {"stop": 3}}, "option stop must be"),
        ({"model": "m", "options": {"extra_body": "top_k=3"}}, "extra_body must be a table"),
    ],
)
def test_bad_settings_are_refused_at_create_naming_the_problem(
    settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(EngineConfigError, match=problem):
        create(**settings)


def test_a_url_with_a_password_is_never_quoted() -> None:
    with pytest.raises(EngineConfigError) as raised:
        create(model="m", base_url="ftp://user:hunter2@host/v1")
    assert "hunter2" not in str(raised.value)


def test_every_option_is_parsed() -> None:
    forced = {"type": "function", "function": {"name": "lookup"}}
    options = parse_options({"tool_choice": forced, "stop": ["END"], "extra_body": {"top_k": 3}})
    assert options == OpenAIOptions(tool_choice=forced, stop=("END",), extra_body={"top_k": 3})
    assert options.forced_tool == "lookup" and options.forces_a_call
    assert parse_options({"tool_choice": "required"}).forces_a_call
    assert not parse_options({"tool_choice": "auto"}).forces_a_call
    assert parse_options({"stop": "END"}).stop == "END"
