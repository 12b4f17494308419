"""The values the stack and the function must agree on, defined once.

The function ships this module in its bundle; the stack (``infra/``) imports the same file.
Standard library only, and no logic: importing it costs nothing at cold start.
"""

from __future__ import annotations

from typing import Final

SERVICE_NAME: Final = "users-api"
METRICS_NAMESPACE: Final = "UsersApi"

# --- HTTP: the resources, their methods, CORS ----------------------------------------------

HEALTH_PATH: Final = "/"
USERS_PATH: Final = "/users"
USER_PATH: Final = "/users/{userId}"
# Each resource and the methods it serves (OPTIONS, the CORS preflight, comes on top).
ROUTES: Final[dict[str, tuple[str, ...]]] = {
    HEALTH_PATH: ("GET",),
    USERS_PATH: ("GET", "POST"),
    USER_PATH: ("DELETE", "GET", "PUT"),
}
# The request headers the API reads, and the two a browser adds when it signs with SigV4.
CORS_REQUEST_HEADERS: Final = (
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Date",
    "X-Amz-Security-Token",
)
# The response headers a browser script may read.
CORS_EXPOSED_HEADERS: Final = (
    "ETag",
    "Location",
    "X-Request-Id",
    "Retry-After",
    "Idempotent-Replayed",
)
PREFLIGHT_MAX_AGE_SECONDS: Final = 3600

# --- Run-time configuration: leaf names under /<environment>/users-api/ ---------------------

PARAMETER_TABLE_NAME: Final = "tableName"
PARAMETER_IDEMPOTENCY_TABLE_NAME: Final = "idempotencyTableName"
PARAMETER_DEFAULT_PAGE_SIZE: Final = "defaultPageSize"
PARAMETER_MAX_PAGE_SIZE: Final = "maxPageSize"
PARAMETER_NAMES: Final = (
    PARAMETER_TABLE_NAME,
    PARAMETER_IDEMPOTENCY_TABLE_NAME,
    PARAMETER_DEFAULT_PAGE_SIZE,
    PARAMETER_MAX_PAGE_SIZE,
)

# --- Tables ----------------------------------------------------------------------------------

USER_KEY: Final = "UserId"
IDEMPOTENCY_KEY: Final = "IdempotencyKey"
# Idempotency records expire through DynamoDB's TTL on this attribute.
EXPIRES_AT: Final = "expiresAt"

# --- Business metrics (Count) and their dimension --------------------------------------------

METRIC_USER_CREATED: Final = "UserCreated"
METRIC_USER_UPDATED: Final = "UserUpdated"
METRIC_USER_DELETED: Final = "UserDeleted"
METRIC_VALIDATION_FAILED: Final = "ValidationFailed"
BUSINESS_METRICS: Final = (
    METRIC_USER_CREATED,
    METRIC_USER_UPDATED,
    METRIC_USER_DELETED,
    METRIC_VALIDATION_FAILED,
)
# Added to every metric beside Powertools' own ``service`` dimension.
ENVIRONMENT_DIMENSION: Final = "environment"
