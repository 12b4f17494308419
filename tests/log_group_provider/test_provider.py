"""The log group provider over moto, answering a fake CloudFormation endpoint on loopback.

Every test reads what CloudFormation would have received: the provider must answer every
request, SUCCESS or FAILED with one sentence, or the stack waits until the service timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.log_group_provider import handler
from tests.fake_aws import use_fake_credentials

REGION = "eu-west-1"
GROUP = "API-Gateway-Execution-Logs_abc123/dev"
TAGS = {"service": "users-api", "environment": "dev"}


@dataclass
class FakeCloudFormation:
    """Records the PUTs to the pre-signed ResponseURL; answers each with the next status."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def cloudformation() -> Iterator[FakeCloudFormation]:
    fake = FakeCloudFormation()

    class Endpoint(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            fake.received.append(json.loads(self.rfile.read(length)))
            fake.content_types.append(self.headers.get("Content-Type"))
            self.send_response(fake.statuses.pop(0) if fake.statuses else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}/response?signature=s"
    yield fake
    server.shutdown()
    thread.join()


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_fake_credentials(monkeypatch, REGION)
    # The response retries back off for seconds; the tests need not wait.
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        # Inside another suite's session-long moto, groups outlive a test: start from none.
        for group in client.describe_log_groups()["logGroups"]:
            client.delete_log_group(logGroupName=group["logGroupName"])
        yield client


class Context:
    log_stream_name = "2026/12/06/[$LATEST]abc"


def event(
    cloudformation: FakeCloudFormation,
    request: str,
    *,
    name: str = GROUP,
    retention: str = "7",
    policy: str = "destroy",
    physical_id: str | None = None,
    old_name: str | None = None,
) -> dict[str, Any]:
    # CloudFormation passes every property value as a string.
    properties = {
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:provider",
        "LogGroupName": name,
        "RetentionInDays": retention,
        "Tags": TAGS,
        "RemovalPolicy": policy,
    }
    built: dict[str, Any] = {
        "RequestType": request,
        "ResponseURL": cloudformation.url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/UsersApi-dev/1",
        "RequestId": f"request-{request}",
        "LogicalResourceId": "ApiExecutionLogGroupC196A6BC",
        "ResourceType": "Custom::EnsuredLogGroup",
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        built["PhysicalResourceId"] = physical_id
    if old_name is not None:
        built["OldResourceProperties"] = {**properties, "LogGroupName": old_name}
    return built


def groups(logs: Any) -> dict[str, dict[str, Any]]:
    return {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}


def answer(cloudformation: FakeCloudFormation) -> dict[str, Any]:
    (only,) = cloudformation.received
    return only


def test_create_makes_the_missing_group_with_retention_and_tags(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    # Given no group of that name
    # When CloudFormation creates the resource
    handler.on_event(event(cloudformation, "Create"), Context())
    # Then the group exists with the retention and tags, and the answer names it
    assert groups(logs)[GROUP]["retentionInDays"] == 7
    assert logs.list_tags_log_group(logGroupName=GROUP)["tags"] == TAGS
    response = answer(cloudformation)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == GROUP
    assert response["Data"] == {"LogGroupName": GROUP}
    assert response["RequestId"] == "request-Create"
    assert response["LogicalResourceId"] == "ApiExecutionLogGroupC196A6BC"
    # The pre-signed URL is signed for an empty content type.
    assert cloudformation.content_types == [""]


def test_create_adopts_an_existing_group_and_keeps_its_events(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    # Given the group API Gateway created itself, unexpiring, with a line in it
    logs.create_log_group(logGroupName=GROUP, tags={"team": "platform"})
    logs.create_log_stream(logGroupName=GROUP, logStreamName="stream")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="stream",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "earlier request"}],
    )
    # When CloudFormation creates the resource
    handler.on_event(event(cloudformation, "Create"), Context())
    # Then the deploy succeeds, the line is still there, and retention and tags are set
    assert answer(cloudformation)["Status"] == "SUCCESS"
    lines = logs.get_log_events(logGroupName=GROUP, logStreamName="stream")["events"]
    assert [line["message"] for line in lines] == ["earlier request"]
    assert groups(logs)[GROUP]["retentionInDays"] == 7
    assert logs.list_tags_log_group(logGroupName=GROUP)["tags"] == {"team": "platform", **TAGS}


def test_update_sets_the_new_retention(logs: Any, cloudformation: FakeCloudFormation) -> None:
    # Given the group at a week's retention
    logs.create_log_group(logGroupName=GROUP)
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    # When the environment's retention becomes 90 days
    handler.on_event(
        event(cloudformation, "Update", retention="90", physical_id=GROUP, old_name=GROUP),
        Context(),
    )
    # Then the group keeps 90 days, under the same physical id
    assert groups(logs)[GROUP]["retentionInDays"] == 90
    assert answer(cloudformation)["PhysicalResourceId"] == GROUP


def test_update_to_another_name_answers_the_new_physical_id(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    # Given the group under its old name
    old = "API-Gateway-Execution-Logs_old/dev"
    logs.create_log_group(logGroupName=old)
    # When the name changes
    handler.on_event(event(cloudformation, "Update", physical_id=old, old_name=old), Context())
    # Then the new group exists and the new id tells CloudFormation to delete the old one later
    assert set(groups(logs)) == {old, GROUP}
    assert answer(cloudformation)["PhysicalResourceId"] == GROUP


def test_delete_with_destroy_deletes_the_group(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    # Given the group, in an environment whose removal policy is DESTROY
    logs.create_log_group(logGroupName=GROUP)
    # When the stack deletes the resource
    handler.on_event(event(cloudformation, "Delete", physical_id=GROUP), Context())
    # Then the group is gone
    assert GROUP not in groups(logs)
    assert answer(cloudformation)["Status"] == "SUCCESS"


def test_delete_with_retain_leaves_the_group(logs: Any, cloudformation: FakeCloudFormation) -> None:
    # Given the group, in an environment whose removal policy is RETAIN
    logs.create_log_group(logGroupName=GROUP)
    # When the stack deletes the resource
    handler.on_event(event(cloudformation, "Delete", policy="retain", physical_id=GROUP), Context())
    # Then the group stays and the delete succeeds
    assert GROUP in groups(logs)
    assert answer(cloudformation)["Status"] == "SUCCESS"


def test_delete_of_a_group_already_gone_succeeds(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    # Given no group
    # When the stack deletes the resource
    handler.on_event(event(cloudformation, "Delete", physical_id=GROUP), Context())
    # Then the delete succeeds: the group is gone, as asked
    assert answer(cloudformation)["Status"] == "SUCCESS"


def test_the_rollback_of_a_failed_create_touches_no_group(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    # Given a Create that failed (so answered the placeholder id), and a group of that name
    handler.on_event(event(cloudformation, "Create", retention="seven"), Context())
    failed = answer(cloudformation)
    logs.create_log_group(logGroupName=GROUP)
    # When CloudFormation rolls back and deletes the resource it was told about
    handler.on_event(
        event(cloudformation, "Delete", physical_id=failed["PhysicalResourceId"]), Context()
    )
    # Then the group stays and the rollback succeeds
    assert failed["Status"] == "FAILED"
    assert failed["PhysicalResourceId"] == handler.NOTHING_OWNED
    assert GROUP in groups(logs)
    assert cloudformation.received[1]["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"retention": "seven"}, "The property RetentionInDays must be a number of days."),
        ({"policy": "snapshot"}, "RemovalPolicy must be destroy or retain, not 'snapshot'."),
        ({"name": ""}, "The property LogGroupName is required."),
        (
            {"name": "x" * 600},
            "CloudWatch Logs refused CreateLogGroup: InvalidParameterException:",
        ),
    ],
)
def test_a_failure_is_answered_failed_with_one_sentence(
    logs: Any, cloudformation: FakeCloudFormation, change: dict[str, str], reason: str
) -> None:
    # Given a request the provider cannot carry out
    # When CloudFormation creates the resource
    handler.on_event(event(cloudformation, "Create", **change), Context())
    # Then CloudFormation hears FAILED with the reason, and no group was made
    response = answer(cloudformation)
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(reason)
    assert groups(logs) == {}


def test_unreachable_cloudwatch_logs_is_answered_failed(
    logs: Any, cloudformation: FakeCloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given CloudWatch Logs that cannot be reached (a closed port on loopback)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with mock_aws(config={"core": {"passthrough": {"urls": [r"http://127\.0\.0\.1:9.*"]}}}):
        # When CloudFormation creates the resource
        handler.on_event(event(cloudformation, "Create"), Context())
    # Then it still hears back, FAILED
    response = answer(cloudformation)
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("CloudWatch Logs could not be reached")


def test_an_unknown_request_type_is_answered_failed(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    handler.on_event(event(cloudformation, "Rename", physical_id=GROUP), Context())
    response = answer(cloudformation)
    assert (response["Status"], response["Reason"]) == (
        "FAILED",
        "Unknown request type 'Rename'.",
    )


def test_the_answer_is_retried_when_the_endpoint_fails_once(
    logs: Any, cloudformation: FakeCloudFormation
) -> None:
    # Given CloudFormation's endpoint failing the first PUT
    cloudformation.statuses = [503]
    # When the resource is created
    handler.on_event(event(cloudformation, "Create"), Context())
    # Then the answer is sent again, and the second one arrives
    assert [r["Status"] for r in cloudformation.received] == ["SUCCESS", "SUCCESS"]
