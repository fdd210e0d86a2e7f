"""The yoi ``openai`` engine: Workers answered by any OpenAI-compatible chat completions server.

Installed, it registers itself in the ``yoi.worker_engine`` entry-point group; a profile with
``engine = "openai"`` uses it. ``yoi_engine_openai.engine.create_openai_engine`` builds one
directly. This module imports nothing, so finding the plugin never loads the openai library.
"""
