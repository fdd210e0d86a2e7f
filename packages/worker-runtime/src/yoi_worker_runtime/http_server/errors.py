"""REST error codes and their HTTP statuses; error bodies never carry absolute paths."""

from __future__ import annotations

from yoi_worker_runtime.errors import ERROR_CODES, WorkerRuntimeError, hide_absolute_paths

#: Error codes the adapter itself produces (transport problems, not Runtime outcomes).
HTTP_ERROR_CODES: tuple[str, ...] = (
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "invalid_json",
    "invalid_query",
    "invalid_cursor",
    "unauthorized",
    "internal_error",
)

#: The HTTP status of every error code the server can answer with.
STATUS_OF_CODE: dict[str, int] = {
    # Runtime outcomes
    "runtime_stopped": 409,
    "runtime_closed": 409,
    "worker_not_running": 409,
    "worker_conflict": 409,
    "runtime_already_hosted": 409,
    "worker_not_found": 404,
    "worker_hosted_elsewhere": 404,
    "worker_orphaned": 404,
    "lease_lost": 503,
    "worker_busy": 409,
    "unknown_profile": 400,
    "unknown_tool": 400,
    "tool_not_allowed": 400,
    "turn_not_found": 404,
    "wrong_runtime": 400,
    "wrong_runtime_cursor": 400,
    "limit_too_large": 400,
    "invalid_request": 400,
    "invalid_worker_id": 400,
    "store_io": 500,
    "insufficient_storage": 507,
    "store_missing": 500,
    "store_corrupt": 500,
    "feature_not_installed": 500,
    # transport
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_json": 400,
    "invalid_query": 400,
    "invalid_cursor": 400,
    "unauthorized": 401,
    "internal_error": 500,
}

assert set(ERROR_CODES) <= set(STATUS_OF_CODE), "every Runtime error code needs a status"

UNAUTHORIZED_MESSAGE = "missing or invalid local Runtime bearer token"


class ApiError(Exception):
    """A typed REST error: ``code`` decides the status, ``message`` is shown as is."""

    def __init__(
        self,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        fields: dict[str, str | None] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS_OF_CODE[code]
        self.headers = headers or {}
        self.fields = fields or {}

    @classmethod
    def from_runtime(cls, error: WorkerRuntimeError) -> ApiError:
        code = error.code if error.code in STATUS_OF_CODE else "internal_error"
        message = error.message
        if STATUS_OF_CODE[code] >= 500:
            # The Runtime's store errors are store-relative already; this is the adapter's own
            # guarantee, whatever a persistence put in a message.
            message = hide_absolute_paths(message)
        return cls(code, message, fields=error.fields())

    def body(self, request_id: str | None = None) -> dict[str, dict[str, str | None]]:
        detail: dict[str, str | None] = {"code": self.code, "message": self.message, **self.fields}
        if request_id is not None:
            detail["request_id"] = request_id
        return {"error": detail}
