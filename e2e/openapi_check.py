"""Every answer of the deployed API checked against docs/openapi.yaml and the envelope rules.

`check_response` runs on each response the e2e client receives; the fuzzer runs the same
checks (`CHECKS` and `assert_envelope`) on every generated request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import requests
import schemathesis
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
_DOCUMENT_URI = "urn:users-api:openapi"

# Conformance to the document: documented status, content type, required headers, body schema.
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# What must never reach a client: stack traces, exception classes, AWS error text or ARNs.
LEAKS = ("Traceback", "Exception", "botocore", "boto3", "arn:aws", "ClientError", 'File "/')
# Unknown paths and unsupported methods are not operations of the document: 404 or 405.
UNDOCUMENTED_STATUSES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


@cache
def schema() -> OpenApiSchema:
    return schemathesis.openapi.from_path(DOCUMENT)


@cache
def _validator_registry() -> Registry[Any]:
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_DOCUMENT_URI, resource)
    return registry


def validate_component(name: str, instance: Any) -> None:
    """Assert that `instance` is valid against `#/components/schemas/<name>`."""
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"{_DOCUMENT_URI}#/components/schemas/{name}"}, registry=_validator_registry()
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the body"
        raise AssertionError(f"not a {name} ({where}: {error.message}): {instance}")


def assert_no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"the body gives away internals ({leak!r}): {text[:300]}"


def assert_envelope(status: int, headers: Mapping[str, str], text: str) -> None:
    """A JSON body in the envelope (204s have none), with nothing internal in it."""
    assert_no_leak(text)
    if status == 204:
        assert not text, f"a 204 has no body, got {text[:300]!r}"
        return
    content_type = headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), f"{status} with {content_type!r}"
    body = json.loads(text)
    assert isinstance(body, dict), f"the body is not a JSON object: {text[:300]}"
    if body.get("success") is True:
        validate_component("Success", body)
    elif status == 503 and set(body) == {"message"}:
        validate_component("PlatformBusy", body)  # LocalStack's own answer to a full function
    else:
        assert body.get("success") is False, f"no envelope: {text[:300]}"
        request_id = headers.get("X-Request-Id")
        assert request_id is None or body.get("requestId") == request_id, "requestId differs"
        if "timestamp" in body:
            validate_component("Error", body)
        else:
            validate_component("GatewayError", body)


def check_response(response: requests.Response, base_url: str) -> None:
    """Assert that one answer of the deployed API is what docs/openapi.yaml says it is."""
    request = response.request
    method = str(request.method).upper()
    path = urlsplit(str(request.url)).path.removeprefix(urlsplit(base_url).path) or "/"
    where = f"{method} {path} answered {response.status_code}"
    assert_envelope(response.status_code, response.headers, response.text)
    operation = schema().find_operation_by_path(method, path)
    if operation is None:
        # Not an operation of the document: the contract's JSON 404 or 405, nothing else.
        code = UNDOCUMENTED_STATUSES.get(response.status_code)
        assert code, f"{where}, but it is not an operation of the document"
        body = response.json()
        codes = (code, "USER_NOT_FOUND") if response.status_code == 404 else (code,)
        assert body["code"] in codes, f"{where} with {body['code']}"
        if response.status_code == 405:
            assert response.headers.get("Allow"), f"{where} without an Allow header"
        return
    # Raises schemathesis' failures, each with what differs and a curl command to reproduce.
    case = operation.Case(path_parameters=_path_parameters(operation.path, path))
    case.validate_response(response, checks=CHECKS)


def _path_parameters(template: str, path: str) -> dict[str, str]:
    """`/users/{userId}` and `/users/abc` give `{"userId": "abc"}`."""
    names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
    values = [
        value
        for part, value in zip(template.split("/"), path.split("/"), strict=False)
        if part.startswith("{")
    ]
    return dict(zip(names, values, strict=True))
