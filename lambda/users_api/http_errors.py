"""The ONE place where any exception becomes an HTTP answer: one table of status and code, the
headers some answers carry, what is logged and counted. Never exposes the text of an exception
that is not an ``ApiError``."""

from __future__ import annotations

from typing import Final

from users_api.definitions import METRIC_VALIDATION_FAILED
from users_api.errors import (
    ApiError,
    BadInput,
    DependencyTimeout,
    DependencyUnavailable,
    IdempotencyConflict,
    InternalError,
    InvalidBody,
    InvalidJson,
    InvalidQuery,
    MethodNotAllowed,
    PayloadTooLarge,
    PreconditionFailed,
    RouteNotFound,
    ServiceDegraded,
    UserDeleted,
    UserNotFound,
    ValidationFailed,
)
from users_api.faults import Outcome, outcome_of
from users_api.http import Response
from users_api.observability import count, logger
from users_api.responses import error_envelope, json_response

# Each error's status and code; a subclass not listed answers as its nearest listed base.
STATUS_AND_CODE: Final[dict[type[ApiError], tuple[int, str]]] = {
    InvalidJson: (400, "INVALID_JSON"),
    InvalidBody: (400, "INVALID_BODY"),
    ValidationFailed: (400, "VALIDATION_ERROR"),
    InvalidQuery: (400, "INVALID_QUERY"),
    PayloadTooLarge: (413, "PAYLOAD_TOO_LARGE"),
    RouteNotFound: (404, "NOT_FOUND"),
    UserNotFound: (404, "USER_NOT_FOUND"),
    MethodNotAllowed: (405, "METHOD_NOT_ALLOWED"),
    IdempotencyConflict: (409, "IDEMPOTENCY_CONFLICT"),
    UserDeleted: (410, "USER_DELETED"),
    PreconditionFailed: (412, "PRECONDITION_FAILED"),
    InternalError: (500, "INTERNAL_ERROR"),
    DependencyUnavailable: (503, "SERVICE_UNAVAILABLE"),
    DependencyTimeout: (504, "DEPENDENCY_TIMEOUT"),
}
RETRY_AFTER_SECONDS: Final = "1"
# A failed health check is not worth re-asking at once.
DEGRADED_RETRY_AFTER_SECONDS: Final = "5"


def status_and_code(error: ApiError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in STATUS_AND_CODE:
            return STATUS_AND_CODE[cls]
    return STATUS_AND_CODE[InternalError]


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


def _log(exc: BaseException, error: ApiError, status: int, code: str, request_id: str) -> None:
    if error is not exc and isinstance(error, InternalError):
        # Full stack trace in the logs, with the request id; nothing of it goes to the client.
        logger.exception("Unhandled error", extra={"request_id": request_id})
    elif isinstance(error, DependencyTimeout):
        logger.warning(
            "Write outcome unknown",
            extra={"request_id": request_id, "operation": error.operation, "outcome": "unknown"},
        )
    elif isinstance(error, DependencyUnavailable):
        logger.warning(
            "Dependency unavailable; nothing was written",
            extra={"request_id": request_id, "error_type": type(exc).__name__},
        )
    elif status >= 500:
        logger.error("Request failed", extra={"request_id": request_id, "code": code})
    else:
        logger.info("Request rejected", extra={"status": status, "code": code})


def _headers(error: ApiError, status: int) -> dict[str, str]:
    if isinstance(error, MethodNotAllowed):
        return {"Allow": ", ".join(error.allowed)}
    if isinstance(error, ServiceDegraded):
        return {"Retry-After": DEGRADED_RETRY_AFTER_SECONDS}
    if status in (503, 504):
        return {"Retry-After": RETRY_AFTER_SECONDS}
    return {}


def error_response(exc: BaseException, *, request_id: str, environment: str) -> Response:
    error = to_api_error(exc)
    status, code = status_and_code(error)
    _log(exc, error, status, code, request_id)
    if isinstance(error, BadInput):
        count(METRIC_VALIDATION_FAILED)
    body = error_envelope(error.message, code, request_id, environment, error.details)
    if isinstance(error, ServiceDegraded):
        body["data"] = error.report
    return json_response(status, body, _headers(error, status))
