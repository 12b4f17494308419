"""LocalStack parity steps: what LocalStack 4.14's CloudFormation silently skips, applied from
the synthesized template (never from a second copy of the values), and said out loud.

On AWS CloudFormation does all of this itself; these steps only run against LocalStack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from e2e.harness.deployment import Deployment

Clients = Callable[[str], Any]
Log = Callable[[str], object]


def apply_parity_steps(deployment: Deployment, clients: Clients, log: Log) -> None:
    apply_reserved_concurrency(deployment, clients("lambda"), log)
    apply_dashboards(deployment, clients("cloudformation"), clients("cloudwatch"), log)


def apply_reserved_concurrency(deployment: Deployment, client: Any, log: Log) -> None:
    """LocalStack's CloudFormation drops ReservedConcurrentExecutions."""
    declared = deployment.declared_reserved_concurrency
    live = client.get_function_concurrency(FunctionName=deployment.function_name)
    if live.get("ReservedConcurrentExecutions") == declared:
        return
    client.put_function_concurrency(
        FunctionName=deployment.function_name, ReservedConcurrentExecutions=declared
    )
    log(
        "LocalStack parity step: its CloudFormation dropped ReservedConcurrentExecutions; "
        f"applied {declared} from the template to {deployment.function_name}"
    )


def apply_dashboards(
    deployment: Deployment, cloudformation: Any, cloudwatch: Any, log: Log
) -> None:
    """LocalStack's CloudFormation reports AWS::CloudWatch::Dashboard created but creates none."""
    existing = {d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]}
    dashboards = deployment.resources_of_type("AWS::CloudWatch::Dashboard").values()
    missing = [d for d in dashboards if d["Properties"]["DashboardName"] not in existing]
    if not missing:
        return
    resolve = template_resolver(deployment, cloudformation, cloudwatch)
    for dashboard in missing:
        name = dashboard["Properties"]["DashboardName"]
        body = resolve(dashboard["Properties"]["DashboardBody"])
        json.loads(body)  # a resolution gap would leave invalid JSON: fail here, not later
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=body)
        log(f"LocalStack parity step: its CloudFormation skipped dashboards; put {name}")


def template_resolver(
    deployment: Deployment, cloudformation: Any, cloudwatch: Any
) -> Callable[[Any], Any]:
    """Resolves Ref, Fn::GetAtt (alarm ARNs), Fn::Join and pseudo parameters to live values."""
    resources = cloudformation.describe_stack_resources(StackName=deployment.stack_name)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResources"]
    }
    alarms = {a["AlarmName"]: a["AlarmArn"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    pseudo = {"AWS::Region": cloudformation.meta.region_name, "AWS::URLSuffix": "amazonaws.com"}

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return pseudo.get(argument) or physical[argument]
            if function == "Fn::GetAtt" and argument[1] == "Arn":
                return alarms[physical[argument[0]]]
            if function == "Fn::Join":
                delimiter, parts = argument
                return delimiter.join(str(resolve(part)) for part in parts)
        if isinstance(value, list):
            return [resolve(item) for item in value]
        return value

    return resolve
