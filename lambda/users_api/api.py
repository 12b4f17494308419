"""The HTTP layer: Powertools' REST resolver, routes, CORS, and the request/response pipeline.

Routes parse and validate the request, call the domain service and build the success envelope.
Every exception goes to ``errors.error_response`` (registered once, for ``Exception``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from users_api.container import Container
from users_api.deadline import Deadline
from users_api.errors import (
    DependencyUnavailable,
    MethodNotAllowed,
    RouteNotFound,
    ServiceDegraded,
    UserNotFound,
)
from users_api.errors import error_response as build_error_response
from users_api.observability import logger
from users_api.pagination import decode_token, encode_token
from users_api.responses import no_content, ok
from users_api.service import request_fingerprint
from users_api.settings import Settings
from users_api.validation import (
    check_limit_syntax,
    etag,
    parse_if_match,
    parse_json_object,
    parse_limit,
    validate_idempotency_key,
    validate_new_user,
    validate_user_update,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ALLOWED_REQUEST_HEADERS = (
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    "Authorization",
    "X-Api-Key",
)
EXPOSED_RESPONSE_HEADERS = (
    "ETag",
    "Location",
    "X-Request-Id",
    "Retry-After",
    "Idempotent-Replayed",
)
PREFLIGHT_MAX_AGE_SECONDS = 600

# The resources and their methods: used for 405 (vs 404) and for CORS preflight answers.
RESOURCES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"^/*$"), ("GET",)),
    (re.compile(r"^/users/*$"), ("GET", "POST")),
    (re.compile(r"^/users/[^/]+/*$"), ("DELETE", "GET", "PUT")),
)


def allowed_methods(path: str) -> tuple[str, ...] | None:
    for pattern, methods in RESOURCES:
        if pattern.match(path):
            return methods
    return None


def request_id_of(event: Mapping[str, Any] | None, context: Any) -> str:
    """API Gateway's request id when present, else the Lambda request id (``aws_request_id``)."""
    request_context = (event or {}).get("requestContext") if isinstance(event, Mapping) else None
    if isinstance(request_context, Mapping) and request_context.get("requestId"):
        return str(request_context["requestId"])
    return str(getattr(context, "aws_request_id", None) or "unknown")


class UsersApi:
    def __init__(self, settings: Settings, container: Container) -> None:
        self.settings = settings
        self.container = container
        # One invocation at a time per Lambda process: the request's id and deadline.
        self._current_request_id = "unknown"
        self._deadline = Deadline.after(0)
        self.app = APIGatewayRestResolver(cors=self._cors_config(settings.allowed_origins))
        self.app.use(middlewares=[self._preflight])
        self.app.exception_handler(Exception)(self._on_error)
        self.app.not_found(self._on_not_found)
        self.app.get("/")(self.health)
        self.app.get("/users")(self.list_users)
        self.app.post("/users")(self.create_user)
        self.app.get("/users/<user_id>")(self.get_user)
        self.app.put("/users/<user_id>")(self.update_user)
        self.app.delete("/users/<user_id>")(self.delete_user)

    # --- pipeline ----------------------------------------------------------------------------

    @staticmethod
    def _cors_config(origins: tuple[str, ...]) -> CORSConfig:
        first, *others = origins or ("",)
        return CORSConfig(
            allow_origin=first,
            extra_origins=others,
            allow_headers=list(ALLOWED_REQUEST_HEADERS),
            expose_headers=list(EXPOSED_RESPONSE_HEADERS),
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = request_id_of(event, context)
        self._current_request_id = request_id
        self._deadline = Deadline.from_context(context)
        try:
            response = self.app.resolve(event, context)
        except Exception as exc:  # the event could not be resolved (not an API Gateway event)
            response = self._fallback_response(exc, request_id)
        self._finish(response, request_id)
        logger.info(
            "Request handled",
            extra={
                "method": (event or {}).get("httpMethod"),
                "resource": (event or {}).get("resource"),
                "status": response.get("statusCode"),
            },
        )
        return response

    def _fallback_response(self, exc: Exception, request_id: str) -> dict[str, Any]:
        rendered = build_error_response(
            exc, request_id=request_id, environment=self.settings.environment
        )
        return {
            "statusCode": rendered.status_code,
            "body": rendered.body,
            "isBase64Encoded": False,
            "multiValueHeaders": {name: [str(value)] for name, value in rendered.headers.items()},
        }

    def _finish(self, response: dict[str, Any], request_id: str) -> None:
        """Headers every response carries, errors and preflights included."""
        headers: dict[str, list[str]] = dict(response.get("multiValueHeaders") or {})
        present = {name.lower() for name in headers}
        if response.get("statusCode") != 204 and "content-type" not in present:
            headers["Content-Type"] = ["application/json"]
        headers["X-Request-Id"] = [request_id]
        if "access-control-allow-origin" not in present:
            fallback = self._fallback_origin()
            if fallback:
                headers["Access-Control-Allow-Origin"] = [fallback]
        origin = headers.get("Access-Control-Allow-Origin", ["*"])[0]
        if origin != "*":
            headers["Vary"] = ["Origin"]
        response["multiValueHeaders"] = headers

    def _fallback_origin(self) -> str | None:
        """The origin header for requests without an allowed ``Origin`` (e.g. not a browser)."""
        origins = self.settings.allowed_origins
        if "*" in origins:
            return "*"
        return origins[0] if origins else None

    def _request_id(self) -> str:
        return self._current_request_id

    def _on_error(self, exc: Exception) -> Response[str]:
        return build_error_response(
            exc, request_id=self._request_id(), environment=self.settings.environment
        )

    def _on_not_found(self, _: NotFoundError) -> Response[str]:
        path = self.app.current_event.path
        methods = allowed_methods(path)
        if methods is None:
            return self._on_error(RouteNotFound())
        if self.app.current_event.http_method.upper() in methods:
            # A /users/{userId} segment with characters Powertools' matcher refuses: no such user.
            return self._on_error(UserNotFound() if path.startswith("/users/") else RouteNotFound())
        return self._on_error(
            MethodNotAllowed(
                f"Method {self.app.current_event.http_method.upper()} is not allowed here; "
                f"allowed: {', '.join((*methods, 'OPTIONS'))}",
                headers={"Allow": ", ".join(sorted((*methods, "OPTIONS")))},
            )
        )

    def _preflight(
        self, app: APIGatewayRestResolver, next_middleware: NextMiddleware
    ) -> Response[str]:
        if app.current_event.http_method.upper() != "OPTIONS":
            return next_middleware(app)
        methods = allowed_methods(app.current_event.path)
        if methods is None:
            raise RouteNotFound()
        return no_content(
            {
                "Access-Control-Allow-Methods": ",".join(sorted((*methods, "OPTIONS"))),
                "Access-Control-Allow-Headers": ",".join(ALLOWED_REQUEST_HEADERS),
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
            }
        )

    # --- request helpers ---------------------------------------------------------------------

    def _header(self, name: str) -> str | None:
        value = self.app.current_event.headers.get(name)
        return None if value is None else str(value)

    def _json_body(self) -> dict[str, Any]:
        event = self.app.current_event
        return parse_json_object(event.body, bool(event.is_base64_encoded))

    def _ok(
        self, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response[str]:
        return ok(data, self.settings.environment, status, headers)

    # --- routes ------------------------------------------------------------------------------

    def health(self) -> Response[str]:
        checks = {"dynamodb": "ok", "config": "ok"}
        try:
            repository = self.container.repository(self._deadline)
        except DependencyUnavailable:
            checks = {"dynamodb": "skipped", "config": "error"}
        else:
            try:
                repository.ping()
            except Exception as exc:  # any failure of the probe means "degraded", never a 500
                logger.warning(
                    "Health check: DynamoDB unavailable", extra={"error_type": type(exc).__name__}
                )
                checks["dynamodb"] = "error"
        healthy = all(value == "ok" for value in checks.values())
        data = {
            "status": "healthy" if healthy else "degraded",
            "checks": checks,
            "version": self.settings.app_version,
        }
        if not healthy:
            raise ServiceDegraded(data=data, headers={"Retry-After": "5"})
        return self._ok(data)

    def list_users(self) -> Response[str]:
        query = self.app.current_event.query_string_parameters
        raw_limit = query.get("limit")
        # Syntax first: bad input is a 400 even when the configuration is unavailable.
        if raw_limit is not None:
            check_limit_syntax(raw_limit)
        raw_token = query.get("nextToken")
        start_key = decode_token(raw_token) if raw_token is not None else None
        config = self.container.config.get(self._deadline)
        limit = parse_limit(
            raw_limit, default=config.default_page_size, maximum=config.max_page_size
        )
        users, last_key = self.container.service(self._deadline).list(limit, start_key)
        data: dict[str, Any] = {"users": users, "count": len(users)}
        if last_key is not None:
            data["nextToken"] = encode_token(last_key)
        return self._ok(data)

    def create_user(self) -> Response[str]:
        body = self._json_body()
        idempotency_key = validate_idempotency_key(self._header("Idempotency-Key"))
        fields = validate_new_user(body)
        result = self.container.service(self._deadline).create(
            fields,
            idempotency_key,
            request_fingerprint(body) if idempotency_key is not None else None,
        )
        user = result.user
        headers = {"Location": f"/users/{user['UserId']}", "ETag": etag(user["version"])}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return self._ok(user, 200 if result.replayed else 201, headers)

    def get_user(self, user_id: str) -> Response[str]:
        user = self.container.service(self._deadline).get(user_id)
        return self._ok(user, headers={"ETag": etag(user["version"])})

    def update_user(self, user_id: str) -> Response[str]:
        changes = validate_user_update(self._json_body())
        if_match = parse_if_match(self._header("If-Match"))
        user = self.container.service(self._deadline).update(user_id, changes, if_match)
        return self._ok(user, headers={"ETag": etag(user["version"])})

    def delete_user(self, user_id: str) -> Response[str]:
        if_match = parse_if_match(self._header("If-Match"))
        self.container.service(self._deadline).delete(user_id, if_match)
        return self._ok({"message": f"User {user_id} deleted successfully"})
