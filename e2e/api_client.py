"""A thin client for the deployed API, and the contract's response checks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from e2e.harness.deploy import ENVIRONMENT, REGION
from e2e.least_privilege.callers import note
from e2e.openapi_check import check_response
from e2e.signing import LOCALSTACK_CREDENTIALS, SigV4

TIMEOUT = 30


@dataclass
class Api:
    """Every request is signed with SigV4, as a real IAM caller's would be."""

    base_url: str
    region: str = REGION
    # Off only for an earlier release's API, which answers by its own contract.
    check_contract: bool = True

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        auth = SigV4(LOCALSTACK_CREDENTIALS, self.region)
        return self.unsigned(method, path, auth=auth, **kwargs)

    def unsigned(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """What a browser's preflight, a health monitor or an anonymous caller sends."""
        response = requests.request(method, f"{self.base_url}{path}", timeout=TIMEOUT, **kwargs)
        note(method, response.request.url or path, self.base_url)  # for the callers' audit
        if self.check_contract:  # every answer is what docs/openapi.yaml says
            check_response(response, self.base_url)
        return response

    def create_user(self, **fields: Any) -> dict[str, Any]:
        response = self.request("POST", "/users", json=new_user(**fields))
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


def new_user(**fields: Any) -> dict[str, Any]:
    """A valid, unique user body; keyword arguments override its fields."""
    marker = uuid.uuid4().hex[:10]
    return {"name": f"Test User {marker}", "email": f"user-{marker}@example.com", **fields}


def assert_success(response: requests.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers.get("X-Request-Id")
    body = response.json()
    assert body["success"] is True
    assert body["environment"] == ENVIRONMENT
    assert body["timestamp"].endswith("Z")
    return body["data"]


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code
    assert body["error"]
    assert body["requestId"] == response.headers["X-Request-Id"]
    # Nothing internal leaks to a client.
    for secret in ("Traceback", "arn:aws", "Exception", "botocore"):
        assert secret not in response.text
    return body


def eventually(check: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def log_messages(aws: Any, log_group: str) -> list[str]:
    """Every message in a log group, all pages."""
    pages = aws("logs").get_paginator("filter_log_events").paginate(logGroupName=log_group)
    return [event["message"] for page in pages for event in page["events"]]


def declared_authorization(template: Mapping[str, Any]) -> dict[str, str]:
    """`{"GET /users/{userId}": "AWS_IAM", ...}`: every method of a synthesized template."""
    resources = template["Resources"]

    def path_of(resource_id: Any) -> str:
        if "Fn::GetAtt" in resource_id:  # the REST API's root resource
            return "/"
        resource = resources[resource_id["Ref"]]["Properties"]
        parent = path_of(resource["ParentId"])
        return f"{parent.rstrip('/')}/{resource['PathPart']}"

    return {
        f"{method['Properties']['HttpMethod']} {path_of(method['Properties']['ResourceId'])}": (
            method["Properties"].get("AuthorizationType", "NONE")
        )
        for method in resources.values()
        if method["Type"] == "AWS::ApiGateway::Method"
    }
