"""The response envelope and its JSON encoding."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from users_api.http import Response
from users_api.timeutil import iso_timestamp, utc_now


def _default(value: Any) -> Any:
    # DynamoDB returns every number as Decimal; the API only stores integers (``version``),
    # so they go out as JSON integers, never as strings.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(payload: Any) -> str:
    return json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":"))


def success_envelope(data: Any, environment: str) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "timestamp": iso_timestamp(utc_now()),
        "environment": environment,
    }


def error_envelope(
    message: str,
    code: str,
    request_id: str,
    environment: str,
    details: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": False,
        "error": message,
        "code": code,
        "requestId": request_id,
        "timestamp": iso_timestamp(utc_now()),
        "environment": environment,
    }
    if details:
        body["details"] = details
    return body


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(status, dumps(body), {"Content-Type": "application/json", **(headers or {})})


def ok(
    data: Any, environment: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return json_response(status, success_envelope(data, environment), headers)


def no_content(headers: dict[str, str] | None = None) -> Response:
    return Response(204, "", dict(headers or {}))
