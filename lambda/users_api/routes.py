"""The routes: each parses and validates its request, calls the domain service and builds the
success envelope. Errors are raised, never answered here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from users_api.container import Container
from users_api.deadline import Deadline
from users_api.errors import DependencyUnavailable, ServiceDegraded
from users_api.http import Request, Response
from users_api.observability import logger
from users_api.pagination import decode_token, encode_token
from users_api.responses import ok
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

Parameters = Mapping[str, str]


class UsersRoutes:
    def __init__(self, settings: Settings, container: Container) -> None:
        self._settings = settings
        self._container = container

    def _ok(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return ok(data, self._settings.environment, status, headers)

    def health(self, request: Request, deadline: Deadline, _: Parameters) -> Response:
        checks = {"dynamodb": "ok", "config": "ok"}
        try:
            repository = self._container.repository(deadline)
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
        report = {
            "status": "healthy" if healthy else "degraded",
            "checks": checks,
            "version": self._settings.app_version,
        }
        if not healthy:
            raise ServiceDegraded(report)
        return self._ok(report)

    def list_users(self, request: Request, deadline: Deadline, _: Parameters) -> Response:
        raw_limit = request.query.get("limit")
        # Syntax first: bad input is a 400 even when the configuration is unavailable.
        if raw_limit is not None:
            check_limit_syntax(raw_limit)
        raw_token = request.query.get("nextToken")
        start_key = decode_token(raw_token) if raw_token is not None else None
        config = self._container.config.get(deadline)
        limit = parse_limit(
            raw_limit, default=config.default_page_size, maximum=config.max_page_size
        )
        users, last_key = self._container.service(deadline).list(limit, start_key)
        data: dict[str, Any] = {"users": users, "count": len(users)}
        if last_key is not None:
            data["nextToken"] = encode_token(last_key)
        return self._ok(data)

    def create_user(self, request: Request, deadline: Deadline, _: Parameters) -> Response:
        body = parse_json_object(request.body, request.is_base64_encoded)
        idempotency_key = validate_idempotency_key(request.header("Idempotency-Key"))
        fields = validate_new_user(body)
        result = self._container.service(deadline).create(
            fields,
            idempotency_key,
            request_fingerprint(body) if idempotency_key is not None else None,
        )
        user = result.user
        headers = {"Location": f"/users/{user['UserId']}", "ETag": etag(user["version"])}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return self._ok(user, 200 if result.replayed else 201, headers)

    def get_user(self, request: Request, deadline: Deadline, path: Parameters) -> Response:
        user = self._container.service(deadline).get(path["userId"])
        return self._ok(user, headers={"ETag": etag(user["version"])})

    def update_user(self, request: Request, deadline: Deadline, path: Parameters) -> Response:
        changes = validate_user_update(parse_json_object(request.body, request.is_base64_encoded))
        if_match = parse_if_match(request.header("If-Match"))
        user = self._container.service(deadline).update(path["userId"], changes, if_match)
        return self._ok(user, headers={"ETag": etag(user["version"])})

    def delete_user(self, request: Request, deadline: Deadline, path: Parameters) -> Response:
        if_match = parse_if_match(request.header("If-Match"))
        self._container.service(deadline).delete(path["userId"], if_match)
        return self._ok({"message": f"User {path['userId']} deleted successfully"})
