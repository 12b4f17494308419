"""Which handler serves a request: the resources and methods of ``definitions.ROUTES``.

A path that names no resource is 404; a resource asked for a method it does not serve is 405
with ``Allow``. Trailing slashes are ignored (``/users/`` is ``/users``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from users_api.definitions import ROUTES
from users_api.errors import MethodNotAllowed, RouteNotFound

_PARAMETER = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(template)
    # split() alternates literal text and parameter names: /users/{userId} -> /users/, userId, ''
    regex = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}\\Z")


_RESOURCES = [(template, _pattern(template)) for template in ROUTES]


def resource_of(path: str) -> tuple[str, dict[str, str]] | None:
    """The resource template a path names, and its path parameters."""
    normalized = path.rstrip("/") or "/"
    for template, pattern in _RESOURCES:
        match = pattern.match(normalized)
        if match:
            return template, match.groupdict()
    return None


def allowed_methods(path: str) -> tuple[str, ...] | None:
    """The methods the path's resource serves (``None``: no such resource)."""
    found = resource_of(path)
    return None if found is None else ROUTES[found[0]]


@dataclass(frozen=True)
class Match[H]:
    handler: H
    parameters: Mapping[str, str]


class Router[H]:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], H] = {}

    def add(self, method: str, template: str, handler: H) -> None:
        if method not in ROUTES.get(template, ()):
            raise ValueError(f"{method} {template} is not a route of definitions.ROUTES")
        self._handlers[(method, template)] = handler

    @property
    def routes(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._handlers)

    def match(self, method: str, path: str) -> Match[H]:
        found = resource_of(path)
        if found is None:
            raise RouteNotFound()
        template, parameters = found
        handler = self._handlers.get((method, template))
        if handler is None:
            raise MethodNotAllowed(method, ROUTES[template])
        return Match(handler, parameters)
