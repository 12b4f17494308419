"""The HTTP request and response of an API Gateway REST proxy integration, as plain values.

The function reads only what it needs from the event, and answers with ``multiValueHeaders``;
nothing here knows about routes, users or errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class MalformedEvent(Exception):
    """The event is not an API Gateway REST proxy request."""


def _text_map(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(name): str(value) for name, value in raw.items() if value is not None}


def request_id_of(event: Any, context: Any) -> str:
    """API Gateway's request id when present, else the Lambda request id (``aws_request_id``)."""
    request_context = event.get("requestContext") if isinstance(event, Mapping) else None
    if isinstance(request_context, Mapping) and request_context.get("requestId"):
        return str(request_context["requestId"])
    return str(getattr(context, "aws_request_id", None) or "unknown")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    query: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    is_base64_encoded: bool = False

    @classmethod
    def from_event(cls, event: Any, request_id: str) -> Request:
        if not isinstance(event, Mapping):
            raise MalformedEvent("the event is not an object")
        method, path = event.get("httpMethod"), event.get("path")
        if not isinstance(method, str) or not isinstance(path, str):
            raise MalformedEvent("the event has no httpMethod and path")
        body = event.get("body")
        return cls(
            method=method.upper(),
            path=path,
            request_id=request_id,
            headers={
                name.lower(): value for name, value in _text_map(event.get("headers")).items()
            },
            query=_text_map(event.get("queryStringParameters")),
            body=body if isinstance(body, str) else None,
            is_base64_encoded=bool(event.get("isBase64Encoded")),
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def to_proxy(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "multiValueHeaders": {name: [value] for name, value in self.headers.items()},
            "body": self.body,
            "isBase64Encoded": False,
        }
