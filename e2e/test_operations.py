"""Monitoring after deploy: alarms with their actions, the dashboard, and the EMF metrics
the handler writes into its log group."""

from __future__ import annotations

import json
from typing import Any

from e2e.api_client import Api, eventually, log_messages, new_user
from e2e.harness.deploy import ENVIRONMENT
from e2e.harness.deployment import Deployment
from infra.names import METRICS_NAMESPACE, SERVICE_NAME, OutputKeys
from users_api import definitions

BUSINESS_METRICS = set(definitions.BUSINESS_METRICS)


def physical_ids(aws: Any, deployment: Deployment, resource_type: str) -> list[str]:
    resources = aws("cloudformation").describe_stack_resources(StackName=deployment.stack_name)
    return [
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r["ResourceType"] == resource_type
    ]


def test_every_alarm_of_the_template_exists_and_notifies_the_encrypted_topic(
    aws: Any, deployment: Deployment
) -> None:
    declared = {
        alarm["Properties"]["AlarmName"]
        for alarm in deployment.resources_of_type("AWS::CloudWatch::Alarm").values()
    }
    (topic_arn,) = physical_ids(aws, deployment, "AWS::SNS::Topic")
    # When the deployed alarms are listed
    live = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{deployment.stack_name}-")
    alarms = {alarm["AlarmName"]: alarm for alarm in live["MetricAlarms"]}
    # Then they are exactly the template's ten, each alarming and clearing through the topic
    assert len(declared) == 10
    assert set(alarms) == declared
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic_arn]
        assert alarm["OKActions"] == [topic_arn]
        assert alarm["AlarmDescription"]
    attributes = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"]


def test_dashboard_shows_the_deployed_function_api_and_table(
    aws: Any, deployment: Deployment
) -> None:
    body = aws("cloudwatch").get_dashboard(DashboardName=deployment.stack_name)["DashboardBody"]
    text = json.dumps(json.loads(body))
    assert deployment.function_name in text
    assert deployment.outputs[OutputKeys.TABLE_NAME] in text
    assert f"{SERVICE_NAME}-{ENVIRONMENT}" in text  # the REST API's name, its metrics' ApiName
    for metric in BUSINESS_METRICS:
        assert metric in text


def test_log_lines_carry_the_emf_metrics_the_dashboard_reads(
    api: Api, aws: Any, deployment: Deployment
) -> None:
    # Given one of each business event
    user = api.create_user()
    renamed = api.request("PUT", f"/users/{user['UserId']}", json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    deleted = api.request("DELETE", f"/users/{user['UserId']}")
    assert deleted.status_code == 200, deleted.text
    invalid = api.request("POST", "/users", json=new_user(email="not-an-email"))
    assert invalid.status_code == 400, invalid.text
    log_group = f"/aws/lambda/{deployment.function_name}"

    def emitted() -> dict[str, dict[str, Any]]:
        blobs: dict[str, dict[str, Any]] = {}
        for message in log_messages(aws, log_group):
            if '"_aws"' not in message:
                continue
            blob = json.loads(message)
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    blobs[metric["Name"]] = {"blob": blob, "directive": directive}
        return blobs

    # When the function's log lines are read
    assert eventually(lambda: set(emitted()) >= BUSINESS_METRICS, timeout=15)
    # Then each business metric is an EMF blob in the dashboard's namespace and dimensions
    for name in BUSINESS_METRICS:
        found = emitted()[name]
        directive, blob = found["directive"], found["blob"]
        assert directive["Namespace"] == METRICS_NAMESPACE
        assert [set(d) for d in directive["Dimensions"]] == [{"environment", "service"}]
        assert (blob["service"], blob["environment"]) == (SERVICE_NAME, ENVIRONMENT)
        assert blob[name] in (1, 1.0, [1], [1.0])
