"""yoi's embeddable Runtime: Workers, transcripts, an event log and diagnostics.

The core needs only attrs and cattrs. Persistence (``fs-store``) and the REST server
(``http-server``) are optional features; see :mod:`yoi_worker_runtime.features`. Their entry
points here, :func:`open_persistent_runtime` and :func:`create_http_app`, import them only when
called.
"""

from __future__ import annotations

from typing import Any

from yoi_worker_runtime.adoption import AdoptionPolicy
from yoi_worker_runtime.codec import check_model, from_json, to_json
from yoi_worker_runtime.errors import (
    ERROR_CODES,
    FeatureNotInstalled,
    InsufficientStorage,
    InvalidRequest,
    InvalidWorkerId,
    LeaseLost,
    LimitTooLarge,
    RuntimeAlreadyOpen,
    RuntimeClosed,
    RuntimeStopped,
    StoreCorrupt,
    StoreIo,
    StoreMissing,
    WorkerConflict,
    WorkerHostedElsewhere,
    WorkerNotFound,
    WorkerNotRunning,
    WorkerOrphaned,
    WorkerRuntimeError,
    WrongRuntime,
    WrongRuntimeCursor,
)
from yoi_worker_runtime.features import feature_installed, require_feature
from yoi_worker_runtime.ids import (
    WORKER_NAME_PATTERN,
    RuntimeId,
    WorkerId,
    new_runtime_id,
    new_worker_id,
    validate_worker_name,
)
from yoi_worker_runtime.model import (
    MODELS,
    AssistantIntent,
    BuiltinProfile,
    ConfigBundleRef,
    CreateWorkerRequest,
    ErrorDetail,
    EventBatch,
    EventCursor,
    LifecycleRequest,
    NamedProfile,
    RequestedCapability,
    ResourceRef,
    RoleIntent,
    RuntimeDefaultProfile,
    RuntimeDiagnostic,
    RuntimeEvent,
    RuntimeLifecycleAck,
    RuntimeLimits,
    RuntimeState,
    RuntimeSummary,
    StoreSchemes,
    TaskIntent,
    TranscriptEntry,
    TranscriptProjection,
    WorkerDefinition,
    WorkerDetail,
    WorkerInput,
    WorkerIntent,
    WorkerInteractionAck,
    WorkerLifecycleAck,
    WorkerPage,
    WorkerProfile,
    WorkerRecord,
    WorkerRef,
    WorkerSummary,
)
from yoi_worker_runtime.persistence import (
    MemoryPersistence,
    RestoredRuntime,
    RestoredWorker,
    RuntimePersistence,
    WorkerLocation,
)
from yoi_worker_runtime.runtime import Runtime
from yoi_worker_runtime.schema import json_schema, schema_components
from yoi_worker_runtime.stores import open_persistent_runtime


def create_http_app(runtime: Runtime, **options: Any) -> Any:
    """The REST adapter (an ASGI app) for ``runtime`` (the ``http-server`` feature).

    Forwards to ``yoi_worker_runtime.http_server.create_app(runtime, **options)``. It lives here,
    above every module of the package, because the adapter itself opens Runtimes through
    :mod:`yoi_worker_runtime.stores`.
    """
    require_feature("http-server")
    from yoi_worker_runtime.http_server import create_app

    return create_app(runtime, **options)


__all__ = [
    "ERROR_CODES",
    "MODELS",
    "WORKER_NAME_PATTERN",
    "AdoptionPolicy",
    "AssistantIntent",
    "BuiltinProfile",
    "ConfigBundleRef",
    "CreateWorkerRequest",
    "ErrorDetail",
    "EventBatch",
    "EventCursor",
    "FeatureNotInstalled",
    "InsufficientStorage",
    "InvalidRequest",
    "InvalidWorkerId",
    "LeaseLost",
    "LifecycleRequest",
    "LimitTooLarge",
    "MemoryPersistence",
    "NamedProfile",
    "RequestedCapability",
    "ResourceRef",
    "RestoredRuntime",
    "RestoredWorker",
    "RoleIntent",
    "Runtime",
    "RuntimeAlreadyOpen",
    "RuntimeClosed",
    "RuntimeDefaultProfile",
    "RuntimeDiagnostic",
    "RuntimeEvent",
    "RuntimeId",
    "RuntimeLifecycleAck",
    "RuntimeLimits",
    "RuntimePersistence",
    "RuntimeState",
    "RuntimeStopped",
    "RuntimeSummary",
    "StoreCorrupt",
    "StoreIo",
    "StoreMissing",
    "StoreSchemes",
    "TaskIntent",
    "TranscriptEntry",
    "TranscriptProjection",
    "WorkerConflict",
    "WorkerDefinition",
    "WorkerDetail",
    "WorkerHostedElsewhere",
    "WorkerId",
    "WorkerInput",
    "WorkerIntent",
    "WorkerInteractionAck",
    "WorkerLifecycleAck",
    "WorkerLocation",
    "WorkerNotFound",
    "WorkerNotRunning",
    "WorkerOrphaned",
    "WorkerPage",
    "WorkerProfile",
    "WorkerRecord",
    "WorkerRef",
    "WorkerRuntimeError",
    "WorkerSummary",
    "WrongRuntime",
    "WrongRuntimeCursor",
    "check_model",
    "create_http_app",
    "feature_installed",
    "from_json",
    "json_schema",
    "new_runtime_id",
    "new_worker_id",
    "open_persistent_runtime",
    "require_feature",
    "schema_components",
    "to_json",
    "validate_worker_name",
]
