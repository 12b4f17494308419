"""The HTTP pipeline around every route: the event becomes a request, preflights are answered,
errors become the envelope (``http_errors``), and every answer carries ``X-Request-Id``, its
content type and the CORS headers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from users_api.deadline import Deadline
from users_api.definitions import (
    CORS_EXPOSED_HEADERS,
    CORS_REQUEST_HEADERS,
    PREFLIGHT_MAX_AGE_SECONDS,
)
from users_api.errors import RouteNotFound
from users_api.http import Request, Response, request_id_of
from users_api.http_errors import error_response
from users_api.observability import logger
from users_api.responses import no_content
from users_api.routing import Router, allowed_methods

Route = Callable[[Request, Deadline, Mapping[str, str]], Response]


class Pipeline:
    def __init__(self, router: Router[Route], environment: str, origins: tuple[str, ...]) -> None:
        self._router = router
        self._environment = environment
        self._origins = origins

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        request_id = request_id_of(event, context)
        origin = None
        try:
            request = Request.from_event(event, request_id)
            origin = request.header("Origin")
            response = self._answer(request, Deadline.from_context(context))
        except Exception as exc:  # every failure, even of a malformed event, is the envelope
            response = error_response(exc, request_id=request_id, environment=self._environment)
        self._finish(response, request_id, origin)
        logger.info(
            "Request handled",
            extra={
                "method": event.get("httpMethod") if isinstance(event, Mapping) else None,
                "resource": event.get("resource") if isinstance(event, Mapping) else None,
                "status": response.status,
            },
        )
        return response.to_proxy()

    def _answer(self, request: Request, deadline: Deadline) -> Response:
        if request.method == "OPTIONS":
            return self._preflight(request.path)
        match = self._router.match(request.method, request.path)
        return match.handler(request, deadline, match.parameters)

    @staticmethod
    def _preflight(path: str) -> Response:
        """API Gateway answers the contract's preflights itself; the function answers only those
        that reach it, with the same values (``definitions``)."""
        methods = allowed_methods(path)
        if methods is None:
            raise RouteNotFound()
        return no_content(
            {
                "Access-Control-Allow-Methods": ",".join(sorted((*methods, "OPTIONS"))),
                "Access-Control-Allow-Headers": ",".join(CORS_REQUEST_HEADERS),
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
            }
        )

    def _finish(self, response: Response, request_id: str, origin: str | None) -> None:
        """Headers every response carries, errors and preflights included."""
        headers = response.headers
        if response.status != 204:
            headers.setdefault("Content-Type", "application/json")
        headers["X-Request-Id"] = request_id
        allowed = self._allowed_origin(origin)
        if allowed:
            headers["Access-Control-Allow-Origin"] = allowed
            headers["Access-Control-Expose-Headers"] = ",".join(CORS_EXPOSED_HEADERS)
            if allowed != "*":
                headers["Vary"] = "Origin"

    def _allowed_origin(self, origin: str | None) -> str | None:
        """The request's origin when it is allowed; else the first configured origin, for
        requests that are not from a browser. Unset: no browser origin is allowed."""
        if "*" in self._origins:
            return "*"
        if origin and origin in self._origins:
            return origin
        return self._origins[0] if self._origins else None
