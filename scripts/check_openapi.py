"""Drift check: docs/openapi.yaml is a valid OpenAPI document and names the function's routes.

Run by `make lint`. The function's routes are read from the router it builds, so a route added,
removed or renamed in the code fails the check until the document says the same. Exits 1 with
one sentence per difference.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAMETER = re.compile(r"\{[^}]*\}")

Operations = set[tuple[str, str]]


def load_document(path: Path = DOCUMENT) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def _normalized(path: str) -> str:
    """`/users/{userId}` and `/users/{user_id}` are the same route."""
    return _PARAMETER.sub("{}", path)


def operations_of(document: dict[str, Any]) -> Operations:
    """(METHOD, path) of every operation of an OpenAPI document, path parameters unnamed."""
    return {
        (method.upper(), _normalized(path))
        for path, item in (document.get("paths") or {}).items()
        for method in item
        if method in HTTP_METHODS
    }


def function_operations() -> Operations:
    """The routes the function's router registers (CORS preflights are not routes)."""
    sys.path[:0] = [str(ROOT / "lambda")]
    from users_api.api import UsersApi
    from users_api.container import Container
    from users_api.settings import Settings

    settings = Settings.from_env({})
    api = UsersApi(settings, Container(settings))
    return {(method, _normalized(path)) for method, path in api.routes}


def problems(document: dict[str, Any], routes: Operations) -> list[str]:
    """Every way in which the document and the function's routes differ; empty when none."""
    try:
        validate(document)
    except OpenAPIValidationError as error:
        return [f"{DOCUMENT.name} is not a valid OpenAPI document: {error.message}"]
    documented = {op for op in operations_of(document) if op[0] != "OPTIONS"}
    found = [
        f"the function serves {method} {path}, which {DOCUMENT.name} does not describe"
        for method, path in sorted(routes - documented)
    ]
    found += [
        f"{DOCUMENT.name} describes {method} {path}, which the function does not serve"
        for method, path in sorted(documented - routes)
    ]
    return found


def main() -> int:
    found = problems(load_document(), function_operations())
    for problem in found:
        print(f"OpenAPI drift: {problem}.", file=sys.stderr)
    if not found:
        print(f"{DOCUMENT.relative_to(ROOT)} is valid and describes every route of the function.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
