"""The Runtime's REST adapter (the ``http-server`` extra): starlette app, served by uvicorn.

The intended client is a trusted backend or a local tool, never a browser: the bearer token is a
local process credential, and no CORS headers are ever sent. Handlers only delegate to
:class:`yoi_worker_runtime.Runtime`; no Worker semantics live here.
"""

from __future__ import annotations

from yoi_worker_runtime.features import require_feature

require_feature("http-server")

from yoi_worker_runtime.http_server.app import create_app  # noqa: E402
from yoi_worker_runtime.http_server.errors import HTTP_ERROR_CODES, STATUS_OF_CODE  # noqa: E402
from yoi_worker_runtime.http_server.openapi import openapi_document  # noqa: E402
from yoi_worker_runtime.http_server.options import AppOptions  # noqa: E402
from yoi_worker_runtime.http_server.serve import (  # noqa: E402
    MEMORY_STORE,
    ServeConfig,
    ServeError,
    load_token,
    open_runtime_for_store,
    parse_bind,
    serve,
)

__all__ = [
    "HTTP_ERROR_CODES",
    "MEMORY_STORE",
    "STATUS_OF_CODE",
    "AppOptions",
    "ServeConfig",
    "ServeError",
    "create_app",
    "load_token",
    "open_runtime_for_store",
    "openapi_document",
    "parse_bind",
    "serve",
]
