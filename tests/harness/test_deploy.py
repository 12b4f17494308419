"""The harness's view of a deployment, and its LocalStack parity step."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.harness.deployment import Deployment
from e2e.harness.parity import apply_reserved_concurrency
from infra.names import RESERVED_CONCURRENCY, OutputKeys
from tests.infra.conftest import synth


class FakeLambda:
    def __init__(self, live: int | None) -> None:
        self.live = live
        self.calls: list[dict[str, Any]] = []

    def get_function_concurrency(self, FunctionName: str) -> dict[str, Any]:
        return {} if self.live is None else {"ReservedConcurrentExecutions": self.live}

    def put_function_concurrency(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        self.live = kwargs["ReservedConcurrentExecutions"]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    _, synthesized = synth({"environment": "dev"})
    return dict(synthesized.to_json())


def deployment_of(template: dict[str, Any]) -> Deployment:
    outputs = {
        OutputKeys.REST_API_ID: "abc123",
        OutputKeys.STAGE_NAME: "dev",
        OutputKeys.FUNCTION_NAME: "users-api-dev-1234",
    }
    return Deployment("http://127.0.0.1:4566", "UsersApi-dev", outputs, template, {})


def test_api_url_goes_through_localstacks_execute_api_path(template: dict[str, Any]) -> None:
    deployment = deployment_of(template)
    assert deployment.api_url == "http://127.0.0.1:4566/_aws/execute-api/abc123/dev"


def test_parity_step_applies_the_templates_reservation(template: dict[str, Any]) -> None:
    # Given a function deployed without its reservation (LocalStack drops it)
    deployment = deployment_of(template)
    client = FakeLambda(live=None)
    messages: list[str] = []
    # When the parity step runs
    apply_reserved_concurrency(deployment, client, messages.append)
    # Then the template's value is applied, and the output says so
    assert client.calls == [
        {"FunctionName": "users-api-dev-1234", "ReservedConcurrentExecutions": RESERVED_CONCURRENCY}
    ]
    assert "parity step" in messages[0]


def test_parity_step_does_nothing_when_the_platform_applied_it(template: dict[str, Any]) -> None:
    client = FakeLambda(live=RESERVED_CONCURRENCY)
    messages: list[str] = []
    apply_reserved_concurrency(deployment_of(template), client, messages.append)
    assert client.calls == []
    assert messages == []
