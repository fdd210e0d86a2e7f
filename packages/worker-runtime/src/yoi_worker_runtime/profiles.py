"""Profiles: which engine runs a Worker's turns, with which settings.

A Worker's ``profile`` resolves to a :class:`Profile`:

- ``runtime_default``: the Runtime's default profile (``echo`` when nothing is configured);
- ``builtin``: one of the built-in profiles, ``echo`` (the echo engine) or ``none`` (record
  input only, run no turns);
- ``named``: a profile of the Runtime's configuration.

The configuration is TOML (``yoi runtime serve --config FILE``)::

    default_profile = "local"
    allow_tools = ["read_file"]

    [profiles.local]
    engine = "openai"
    model = "smollm2"
    base_url = "http://127.0.0.1:8080/v1"
    timeout = 30
    options = { tool_choice = "auto" }

Every key is checked when the Runtime starts; an unknown key is an error naming it. Secrets
are never part of a profile: ``api_key_env`` names the environment variable holding the key.
"""

from __future__ import annotations

import logging
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from yoi_worker_runtime.engines.contract import (
    Engine,
    EngineConfigError,
    EngineProvider,
    EngineSettings,
)
from yoi_worker_runtime.errors import UnknownProfile
from yoi_worker_runtime.model import BuiltinProfile, RuntimeDefaultProfile, WorkerProfile

#: The built-in profiles a ``builtin`` Worker profile may name.
BUILTIN_PROFILE_NAMES = ("echo", "none")
DEFAULT_PROFILE = "echo"
DEFAULT_MAX_STEPS = 8

PROFILE_KEYS = (
    "engine",
    "model",
    "base_url",
    "api_key_env",
    "temperature",
    "max_output_tokens",
    "timeout",
    "context_budget",
    "max_retries",
    "max_steps",
    "options",
)
CONFIG_KEYS = ("default_profile", "allow_tools", "profiles")


class ConfigError(ValueError):
    """The Runtime configuration is invalid; the message names the file, key and problem."""


@attrs.frozen(kw_only=True)
class Profile:
    name: str
    engine: str
    settings: EngineSettings = attrs.field(factory=EngineSettings)
    #: Tokens of history an engine is sent at most (estimated); None: no limit.
    context_budget: int | None = None
    #: Engine calls a turn may make (each round of tool calls costs one) before it fails.
    max_steps: int = DEFAULT_MAX_STEPS


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """Profiles by name, the default profile, and the tools the Runtime allows."""

    profiles: Mapping[str, Profile] = attrs.field(factory=dict)
    default_profile: str = DEFAULT_PROFILE
    allow_tools: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.default_profile not in self.profiles and self.default_profile not in (
            BUILTIN_PROFILE_NAMES
        ):
            known = ", ".join(self.known_profiles())
            raise ConfigError(
                f"default profile {self.default_profile!r} is not defined (known: {known})"
            )

    def known_profiles(self) -> list[str]:
        return sorted({*BUILTIN_PROFILE_NAMES, *self.profiles})

    def builtin(self, name: str) -> Profile | None:
        if name not in BUILTIN_PROFILE_NAMES:
            return None
        return Profile(name=name, engine=name)

    def named(self, name: str) -> Profile | None:
        return self.profiles.get(name)

    def default(self) -> Profile:
        found = self.named(self.default_profile) or self.builtin(self.default_profile)
        assert found is not None  # checked in __attrs_post_init__
        return found


def _number(where: str, value: object, *, minimum: float, integer: bool = False) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, int if integer else int | float)
        or not math.isfinite(value)
        or value < minimum
    ):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{where} must be {kind} >= {minimum:g}, got {value!r}")
    return value


def _string(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-blank string, got {value!r}")
    return value


def parse_profile(name: str, table: object, *, source: str) -> Profile:
    """One ``[profiles.NAME]`` table; ConfigError names the first problem."""
    where = f"{source}: [profiles.{name}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - set(PROFILE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(PROFILE_KEYS)}")
    if "engine" not in table:
        raise ConfigError(f"{where}: the key 'engine' is required")
    settings: dict[str, Any] = {}
    for key in ("model", "base_url", "api_key_env"):
        if key in table:
            settings[key] = _string(f"{where} {key}", table[key])
    if "temperature" in table:
        settings["temperature"] = float(
            _number(f"{where} temperature", table["temperature"], minimum=0)
        )
    if "max_output_tokens" in table:
        settings["max_output_tokens"] = _number(
            f"{where} max_output_tokens", table["max_output_tokens"], minimum=1, integer=True
        )
    if "timeout" in table:
        timeout = float(_number(f"{where} timeout", table["timeout"], minimum=0))
        if timeout <= 0:
            raise ConfigError(f"{where} timeout must be more than 0 seconds")
        settings["timeout"] = timeout
    if "max_retries" in table:
        settings["max_retries"] = _number(
            f"{where} max_retries", table["max_retries"], minimum=0, integer=True
        )
    options = table.get("options", {})
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where} options must be a table")
    settings["options"] = dict(options)
    budget = table.get("context_budget")
    if budget is not None:
        budget = _number(f"{where} context_budget", budget, minimum=1, integer=True)
    max_steps = _number(
        f"{where} max_steps", table.get("max_steps", DEFAULT_MAX_STEPS), minimum=1, integer=True
    )
    return Profile(
        name=name,
        engine=_string(f"{where} engine", table["engine"]),
        settings=EngineSettings(**settings),
        context_budget=budget,
        max_steps=max_steps,
    )


def parse_config(data: Mapping[str, Any], *, source: str = "configuration") -> RuntimeConfig:
    """A Runtime configuration from parsed TOML; ConfigError names the first problem."""
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r}; known: {', '.join(CONFIG_KEYS)}")
    tables = data.get("profiles", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{source}: profiles must be a table of [profiles.NAME] tables")
    profiles = {name: parse_profile(name, table, source=source) for name, table in tables.items()}
    for name in profiles:
        if name in BUILTIN_PROFILE_NAMES:
            raise ConfigError(f"{source}: [profiles.{name}] would hide the built-in profile")
    default = data.get("default_profile", DEFAULT_PROFILE)
    allow = data.get("allow_tools", [])
    if not isinstance(allow, list) or not all(isinstance(item, str) for item in allow):
        raise ConfigError(f"{source}: allow_tools must be a list of tool names")
    return RuntimeConfig(
        profiles=profiles,
        default_profile=_string(f"{source}: default_profile", default),
        allow_tools=tuple(dict.fromkeys(allow)),
    )


def load_config(path: str | Path) -> RuntimeConfig:
    """Read a TOML configuration file; ConfigError for a missing file or bad content."""
    source = str(path)
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the configuration ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return parse_config(data, source=source)


@attrs.frozen
class ResolvedProfile:
    """A Worker's profile as the Runtime runs it; ``engine`` is None when it runs no turns."""

    profile: Profile
    engine: Engine | None


class EngineSet:
    """The engines of every profile a Runtime knows, created (never connected) when it opens,
    so a bad engine name or option fails at start rather than at the first turn."""

    def __init__(
        self, config: RuntimeConfig, providers: Mapping[str, EngineProvider] | None = None
    ) -> None:
        if providers is None:
            from yoi_worker_runtime.engines.plugins import engine_providers

            providers = engine_providers()
        self.config = config
        self._resolved: dict[str, ResolvedProfile] = {}
        candidates = [config.builtin(name) for name in BUILTIN_PROFILE_NAMES]
        for profile in [*candidates, *config.profiles.values()]:
            assert profile is not None
            provider = providers.get(profile.engine)
            if provider is None:
                raise ConfigError(
                    f"profile {profile.name!r} names the engine {profile.engine!r}, which is not "
                    f"installed (installed: {', '.join(sorted(providers))})"
                )
            try:
                engine = provider.create(profile.settings) if provider.create else None
            except EngineConfigError as exc:
                raise ConfigError(f"profile {profile.name!r}: {exc}") from None
            key = profile.name if profile.name in config.profiles else f"builtin:{profile.name}"
            self._resolved[key] = ResolvedProfile(profile, engine)

    def resolve(self, profile: WorkerProfile) -> ResolvedProfile:
        """The profile a Worker's ``profile`` names; UnknownProfile (nothing written) if none."""
        if isinstance(profile, RuntimeDefaultProfile):
            name = self.config.default_profile
            key = name if name in self.config.profiles else f"builtin:{name}"
        elif isinstance(profile, BuiltinProfile):
            key = f"builtin:{profile.value}"
            if profile.value not in BUILTIN_PROFILE_NAMES:
                raise UnknownProfile(
                    f"no built-in profile {profile.value!r}", list(BUILTIN_PROFILE_NAMES)
                )
        else:
            key = profile.value
            if key not in self.config.profiles:
                raise UnknownProfile(
                    f"no profile named {profile.value!r} in this Runtime's configuration",
                    sorted(self.config.profiles),
                )
        return self._resolved[key]

    async def aclose(self) -> None:
        for resolved in self._resolved.values():
            if resolved.engine is not None:
                try:
                    await resolved.engine.aclose()
                except Exception:  # closing is best effort; one engine must not keep others open
                    logging.getLogger(__name__).exception("closing an engine failed")
