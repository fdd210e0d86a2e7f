"""What went wrong, as the contract's typed failure reasons.

A failure message is built here from the kind of error and the HTTP status alone: never from
the provider's error body or the exception's text, which may quote the request's key.
"""

from __future__ import annotations

import openai
from yoi_worker_runtime.engines import EngineFailed, FailureReason

#: HTTP statuses with a reason of their own; other 4xx are requests the server would not take.
STATUS_REASONS: dict[int, FailureReason] = {
    401: "engine_auth",
    403: "engine_auth",
    408: "engine_timeout",
    429: "engine_rate_limited",
    504: "engine_timeout",
}


def status_failure(status: int) -> EngineFailed:
    """The failure of a request the server answered with an error status."""
    if status in STATUS_REASONS:
        reason = STATUS_REASONS[status]
    elif status >= 500:
        reason = "engine_unavailable"
    else:
        reason = "engine_bad_response"
    described = {
        "engine_auth": "the model server refused the credentials",
        "engine_timeout": "the model server timed out",
        "engine_rate_limited": "the model server is rate limiting requests",
        "engine_unavailable": "the model server failed",
        "engine_bad_response": "the model server refused the request",
    }[reason]
    return EngineFailed(reason=reason, message=f"{described} (HTTP {status})")


def _is_timeout(error: BaseException) -> bool:
    # openai releases before 3.x let the HTTP library's own timeout errors escape a stream.
    return isinstance(error, openai.APITimeoutError | TimeoutError) or any(
        cls.__name__ == "TimeoutException" for cls in type(error).__mro__
    )


def failure_of(error: Exception, *, streaming: bool, timeout: float) -> EngineFailed:
    """The failure for an error raised by the openai library, before (``streaming`` False) or
    while reading the reply stream."""
    if isinstance(error, openai.APIStatusError):
        return status_failure(error.status_code)
    if _is_timeout(error):
        message = (
            f"the model server sent nothing more for {timeout:g} s mid-reply"
            if streaming
            else f"the model server did not answer within {timeout:g} s"
        )
        return EngineFailed(reason="engine_timeout", message=message)
    if isinstance(error, ValueError | openai.APIResponseValidationError):
        return EngineFailed(
            reason="engine_bad_response", message="the model server sent a malformed stream"
        )
    if isinstance(error, openai.APIError) and not isinstance(error, openai.APIConnectionError):
        return EngineFailed(
            reason="engine_bad_response", message="the model server reported an error mid-reply"
        )
    # A connection error, also the HTTP library's own, which older openai releases let escape.
    lost = "the connection to the model server was lost mid-reply"
    return EngineFailed(
        reason="engine_unavailable", message=lost if streaming else "cannot reach the model server"
    )
