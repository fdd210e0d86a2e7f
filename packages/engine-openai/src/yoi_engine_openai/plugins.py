"""Entry-point module: registers the ``openai`` engine in the ``yoi.worker_engine`` group.

Importing it is cheap: the openai library loads only when a profile creates the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yoi_worker_runtime.engines import EngineProvider, EngineSettings, hookimpl

if TYPE_CHECKING:
    from yoi_engine_openai.engine import OpenAIEngine

ENGINE_NAME = "openai"


def _create(settings: EngineSettings) -> OpenAIEngine:
    from yoi_engine_openai.engine import create_openai_engine

    return create_openai_engine(settings)


@hookimpl
def yoi_worker_engines() -> list[EngineProvider]:
    return [
        EngineProvider(
            name=ENGINE_NAME,
            summary="any OpenAI-compatible chat completions server (OpenAI, OpenRouter, "
            "vLLM, llama.cpp, Ollama, LM Studio)",
            create=_create,
        )
    ]
