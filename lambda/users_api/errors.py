"""Domain errors and the ONE place where any exception becomes an HTTP response."""

from __future__ import annotations

from typing import Any, ClassVar

from aws_lambda_powertools.event_handler import Response

from users_api.definitions import METRIC_VALIDATION_FAILED
from users_api.faults import Outcome, outcome_of
from users_api.observability import count, logger
from users_api.responses import error_envelope, json_response


class ApiError(Exception):
    """An error with a stable code that the client may see."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        self.data = data  # a payload the error body carries beside the envelope, if any
        super().__init__(self.message)


class BadInput(ApiError):
    """Base class of the 4xx errors caused by what the client sent (counted as ValidationFailed)."""

    status = 400


class InvalidJson(BadInput):
    code = "INVALID_JSON"
    default_message = "Request body is not valid JSON"


class InvalidBody(BadInput):
    code = "INVALID_BODY"
    default_message = "Request body must be a JSON object"


class ValidationFailed(BadInput):
    code = "VALIDATION_ERROR"
    default_message = "Request validation failed"


class InvalidQuery(BadInput):
    code = "INVALID_QUERY"
    default_message = "Invalid query parameter"


class PayloadTooLarge(BadInput):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "Request body is larger than 16 KiB"


class RouteNotFound(ApiError):
    status = 404
    code = "NOT_FOUND"
    default_message = "Resource not found"


class UserNotFound(ApiError):
    status = 404
    code = "USER_NOT_FOUND"
    default_message = "User not found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed for this resource"


class IdempotencyConflict(ApiError):
    status = 409
    code = "IDEMPOTENCY_CONFLICT"
    default_message = "Idempotency-Key was already used with a different request body"


class PreconditionFailed(ApiError):
    status = 412
    code = "PRECONDITION_FAILED"
    default_message = "If-Match does not match the current ETag of the user"


class DependencyUnavailable(ApiError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "Service temporarily unavailable, please retry"


class DependencyTimeout(ApiError):
    """A write was sent and not confirmed in time: it may or may not have been applied."""

    status = 504
    code = "DEPENDENCY_TIMEOUT"
    default_message = (
        "The change was sent to the database but not confirmed in time; it may have been applied. "
        "Retry a create with the same Idempotency-Key; re-read before retrying an update or "
        "delete, and send If-Match"
    )

    def __init__(self, message: str | None = None, *, operation: str = "write") -> None:
        super().__init__(message)
        self.operation = operation


class ServiceDegraded(DependencyUnavailable):
    """The health check found a dependency down; `data` reports every check."""

    default_message = "Service is degraded: a dependency check failed"


class InternalError(ApiError):
    """Something that should not happen; the client only sees a generic message."""


def to_api_error(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    # A dependency fault that no retry layer settled (a write is always settled by one).
    outcome = outcome_of(exc)
    if outcome is Outcome.REFUSED:
        return DependencyUnavailable()
    if outcome is Outcome.UNCONFIRMED:
        return DependencyTimeout()
    return InternalError()


def error_response(exc: BaseException, *, request_id: str, environment: str) -> Response[str]:
    """Map any exception to the error envelope. Never exposes exception text of non-API errors."""
    error = to_api_error(exc)
    if error is not exc:
        if isinstance(error, DependencyUnavailable):
            logger.warning(
                "Dependency unavailable",
                extra={"request_id": request_id, "error_type": type(exc).__name__},
            )
        else:
            # Full stack trace in the logs, with the request id; nothing of it goes to the client.
            logger.exception("Unhandled error", extra={"request_id": request_id})
    elif isinstance(error, DependencyTimeout):
        logger.warning(
            "Write outcome unknown",
            extra={"request_id": request_id, "operation": error.operation, "outcome": "unknown"},
        )
    elif isinstance(error, DependencyUnavailable):
        logger.warning(
            "Dependency unavailable; nothing was written", extra={"request_id": request_id}
        )
    elif error.status >= 500:
        logger.error("Request failed", extra={"request_id": request_id, "code": error.code})
    else:
        logger.info("Request rejected", extra={"status": error.status, "code": error.code})
    if isinstance(error, BadInput):
        count(METRIC_VALIDATION_FAILED)

    headers = dict(error.headers)
    if error.status in (503, 504):
        headers.setdefault("Retry-After", "1")
    body = error_envelope(error.message, error.code, request_id, environment, error.details)
    if error.data is not None:
        body["data"] = error.data
    return json_response(error.status, body, headers)
