"""The openai engine's settings: the common profile keys it needs and its own ``options``.

Options (the profile's ``options`` table):

- ``tool_choice``: ``"auto"``, ``"none"``, ``"required"`` or
  ``{type = "function", function = {name = "NAME"}}``. A choice that forces a call
  (``required`` or a named function) applies to a turn's first step only, so the step that
  follows the tool results may answer in text instead of calling tools again and again;
  ``auto`` and ``none`` apply to every step.
- ``stop``: a string or a list of strings that end the reply.
- ``extra_body``: a table merged into the request body as is, for server-specific parameters
  (``top_k`` on vLLM, ``provider`` on OpenRouter, ``max_completion_tokens`` for OpenAI's
  reasoning models, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from yoi_worker_runtime.engines import EngineConfigError, EngineSettings

OPTION_KEYS = ("tool_choice", "stop", "extra_body")
TOOL_CHOICE_MODES = ("auto", "none", "required")


@attrs.frozen(kw_only=True)
class OpenAIOptions:
    #: A mode from TOOL_CHOICE_MODES or ``{"type": "function", "function": {"name": ...}}``.
    tool_choice: str | Mapping[str, Any] | None = None
    stop: str | tuple[str, ...] | None = None
    extra_body: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def forced_tool(self) -> str | None:
        """The name of the function ``tool_choice`` forces, if it names one."""
        if isinstance(self.tool_choice, Mapping):
            name: str = self.tool_choice["function"]["name"]
            return name
        return None

    @property
    def forces_a_call(self) -> bool:
        return self.tool_choice == "required" or self.forced_tool is not None


def _tool_choice_of(value: object) -> str | Mapping[str, Any]:
    if isinstance(value, str):
        if value not in TOOL_CHOICE_MODES:
            raise EngineConfigError(
                f"openai option tool_choice must be one of {', '.join(TOOL_CHOICE_MODES)} "
                f'or {{type = "function", function = {{name = "..."}}}}, got {value!r}'
            )
        return value
    function = value.get("function") if isinstance(value, Mapping) else None
    if (
        not isinstance(value, Mapping)
        or set(value) != {"type", "function"}
        or value["type"] != "function"
        or not isinstance(function, Mapping)
        or set(function) != {"name"}
        or not isinstance(function["name"], str)
        or not function["name"]
    ):
        raise EngineConfigError(
            'openai option tool_choice as a table must be {type = "function", '
            f'function = {{name = "..."}}}}, got {value!r}'
        )
    return {"type": "function", "function": {"name": function["name"]}}


def _stop_of(value: object) -> str | tuple[str, ...]:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return tuple(value)
    raise EngineConfigError(
        f"openai option stop must be a non-empty string or list of strings, got {value!r}"
    )


def parse_options(options: Mapping[str, Any]) -> OpenAIOptions:
    """The openai options of a profile; EngineConfigError names the first problem."""
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise EngineConfigError(
            f"unknown openai option {unknown[0]!r}; known: {', '.join(OPTION_KEYS)}"
        )
    extra_body = options.get("extra_body", {})
    if not isinstance(extra_body, Mapping):
        raise EngineConfigError(f"openai option extra_body must be a table, got {extra_body!r}")
    return OpenAIOptions(
        tool_choice=_tool_choice_of(options["tool_choice"]) if "tool_choice" in options else None,
        stop=_stop_of(options["stop"]) if "stop" in options else None,
        extra_body=dict(extra_body),
    )


def check_settings(settings: EngineSettings) -> None:
    """The common settings the openai engine needs: a model, and an http(s) base URL if any."""
    if not settings.model:
        raise EngineConfigError("the openai engine needs a model (the profile's `model` key)")
    if settings.base_url is not None:
        parts = urlsplit(settings.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # Only the scheme is quoted: a URL may carry a password.
            raise EngineConfigError(
                f"openai base_url must be an http:// or https:// URL, not {parts.scheme or 'a'!s}"
                " URL"
            )
