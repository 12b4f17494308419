"""The harness's view of a deployment, and its LocalStack parity steps."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from e2e.harness.deploy import rollback_sentence
from e2e.harness.deployment import Deployment
from e2e.harness.parity import apply_dashboards, apply_reserved_concurrency
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


class FakeCloudFormation:
    """Every resource of the template deployed under the physical id `<logical id>-live`."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.resources = template["Resources"]
        self.meta = SimpleNamespace(region_name="eu-west-1")

    def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
        return {
            "StackResources": [
                {"LogicalResourceId": logical_id, "PhysicalResourceId": f"{logical_id}-live"}
                for logical_id in self.resources
            ]
        }


class FakeCloudWatch:
    def __init__(self, existing: list[str]) -> None:
        self.existing = existing
        self.put: dict[str, str] = {}

    def list_dashboards(self) -> dict[str, Any]:
        return {"DashboardEntries": [{"DashboardName": name} for name in self.existing]}

    def describe_alarms(self) -> dict[str, Any]:
        return {"MetricAlarms": [{"AlarmName": "any", "AlarmArn": "arn:aws:cloudwatch:x"}]}

    def put_dashboard(self, DashboardName: str, DashboardBody: str) -> None:
        self.put[DashboardName] = DashboardBody


class AlarmsByPhysicalId(FakeCloudWatch):
    def __init__(self, template: dict[str, Any]) -> None:
        super().__init__(existing=[])
        self.alarms = [
            logical_id
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == "AWS::CloudWatch::Alarm"
        ]

    def describe_alarms(self) -> dict[str, Any]:
        return {
            "MetricAlarms": [
                {"AlarmName": f"{a}-live", "AlarmArn": f"arn:aws:cloudwatch:alarm:{a}"}
                for a in self.alarms
            ]
        }


def test_dashboard_parity_step_puts_the_templates_dashboard_resolved(
    template: dict[str, Any],
) -> None:
    # Given a deploy whose dashboard LocalStack's CloudFormation skipped
    cloudwatch = AlarmsByPhysicalId(template)
    messages: list[str] = []
    # When the parity step runs
    apply_dashboards(
        deployment_of(template), FakeCloudFormation(template), cloudwatch, messages.append
    )
    # Then the dashboard is put under its template name, every reference resolved
    (name,) = cloudwatch.put
    assert name == "UsersApi-dev"
    body = json.loads(cloudwatch.put[name])
    text = json.dumps(body)
    assert "Ref" not in text
    assert "Fn::" not in text
    assert "eu-west-1" in text
    function_id = next(
        k for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"
    )
    assert f"{function_id}-live" in text
    assert all(f"arn:aws:cloudwatch:alarm:{alarm}" in text for alarm in cloudwatch.alarms)
    assert "parity step" in messages[0]


def test_dashboard_parity_step_leaves_an_existing_dashboard_alone(
    template: dict[str, Any],
) -> None:
    cloudwatch = FakeCloudWatch(existing=["UsersApi-dev"])
    messages: list[str] = []
    apply_dashboards(
        deployment_of(template), FakeCloudFormation(template), cloudwatch, messages.append
    )
    assert cloudwatch.put == {}
    assert messages == []


HEALTH = "http://127.0.0.1:4566/_aws/execute-api/abc123/dev/"


def test_a_rolled_back_update_that_still_serves_says_so_and_where() -> None:
    sentence = rollback_sentence(
        "UsersApi-dev", "UPDATE_ROLLBACK_COMPLETE", HEALTH, updating=True, serving=True
    )

    assert "update of UsersApi-dev failed and was rolled back" in sentence
    assert f"still answers at {HEALTH}" in sentence
    assert sentence.count(". ") == 0  # one sentence


def test_a_rolled_back_update_that_left_no_api_says_to_start_again() -> None:
    sentence = rollback_sentence(
        "UsersApi-dev", "ROLLBACK_COMPLETE", HEALTH, updating=True, serving=False
    )

    assert "left its API answering nothing" in sentence
    assert "`make local-down`, then `make local`" in sentence


def test_a_rolled_back_first_deploy_says_a_rerun_deploys_from_scratch() -> None:
    sentence = rollback_sentence(
        "UsersApi-dev", "ROLLBACK_COMPLETE", HEALTH, updating=False, serving=False
    )

    assert sentence.startswith("The first deploy of UsersApi-dev failed and was rolled back")
