"""Engines execute turns: the contract, the built-in engines and the extension point.

See :mod:`yoi_worker_runtime.engines.contract` for what an engine receives and yields, and
:mod:`yoi_worker_runtime.engines.testing` for the conformance kit every engine should pass.
"""

from __future__ import annotations

from yoi_worker_runtime.engines.contract import (
    FAILURE_REASONS,
    AssistantMessage,
    Engine,
    EngineConfigError,
    EngineError,
    EngineEvent,
    EngineFailed,
    EngineProvider,
    EngineSettings,
    FailureReason,
    Message,
    StepRequest,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from yoi_worker_runtime.engines.plugins import ENTRY_POINT_GROUP, engine_providers, hookimpl

__all__ = [
    "ENTRY_POINT_GROUP",
    "FAILURE_REASONS",
    "AssistantMessage",
    "Engine",
    "EngineConfigError",
    "EngineError",
    "EngineEvent",
    "EngineFailed",
    "EngineProvider",
    "EngineSettings",
    "FailureReason",
    "Message",
    "StepRequest",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "engine_providers",
    "hookimpl",
]
