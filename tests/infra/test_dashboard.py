"""The dashboard: the API, the function against its limits, the table, the handler's business
metrics and every alarm's state."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra.monitoring.metrics import TABLE_OPERATIONS
from infra.stack import UsersApiStack
from tests.infra.conftest import only_resource
from users_api.definitions import BUSINESS_METRICS


def rendered(value: Any) -> str:
    """A token-bearing string from the template: ${LogicalId} for a Ref, ${Id.Attr} a GetAtt."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(rendered(part) for part in parts)
    raise AssertionError(f"unexpected intrinsic {value}")


def dashboard_widgets(template: Template) -> list[dict[str, Any]]:
    body = only_resource(template, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]
    widgets: list[dict[str, Any]] = json.loads(rendered(body))["widgets"]
    return widgets


def widget(widgets: list[dict[str, Any]], title: str) -> dict[str, Any]:
    (found,) = [w["properties"] for w in widgets if w["properties"].get("title") == title]
    return dict(found)


def logical_ref(stack: UsersApiStack, value: Any) -> str:
    return "${" + str(stack.resolve(value)["Ref"]) + "}"


def test_one_dashboard_named_after_the_stack(template: Template, environment: str) -> None:
    # Given the synthesized stack, then it has one dashboard, named after the stack
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": f"UsersApi-{environment}"}
    )


def test_dashboard_shows_the_api_requests_latency_and_errors(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the dashboard and this API's stage
    widgets = dashboard_widgets(template)
    stage = logical_ref(stack, stack.api.rest_api.deployment_stage.stage_name)
    api = ["AWS/ApiGateway"]
    dims = ["ApiName", f"users-api-{environment}", "Stage", stage]
    # Then it graphs the stage's requests, latency percentiles and 4XX / 5XX errors
    requests = widget(widgets, "API requests")["metrics"]
    assert [m[:6] for m in requests] == [[*api, "Count", *dims]]
    latency = widget(widgets, "API latency (ms)")["metrics"]
    assert [(m[1], m[6]["stat"]) for m in latency] == [
        ("Latency", "p50"),
        ("Latency", "p90"),
        ("Latency", "p99"),
        ("IntegrationLatency", "p99"),
    ]
    assert all(m[2:6] == dims for m in latency)
    errors = widget(widgets, "API errors")["metrics"]
    assert [m[:6] for m in errors] == [[*api, "4XXError", *dims], [*api, "5XXError", *dims]]


def test_dashboard_shows_the_function_against_its_limits(
    stack: UsersApiStack, template: Template
) -> None:
    # Given the dashboard and this function
    widgets = dashboard_widgets(template)
    function = ["FunctionName", logical_ref(stack, stack.service.function.function_name)]
    metrics = {
        title: [(m[1], m[2:4], m[4]["stat"]) for m in widget(widgets, title)["metrics"]]
        for title in (
            "Function invocations",
            "Function duration (ms)",
            "Function errors and throttles",
            "Function concurrency",
        )
    }
    # Then it graphs the function's invocations, duration, errors, throttles and concurrency
    assert metrics == {
        "Function invocations": [("Invocations", function, "Sum")],
        "Function duration (ms)": [
            ("Duration", function, "p50"),
            ("Duration", function, "p99"),
            ("Duration", function, "Maximum"),
        ],
        "Function errors and throttles": [
            ("Errors", function, "Sum"),
            ("Throttles", function, "Sum"),
        ],
        "Function concurrency": [("ConcurrentExecutions", function, "Maximum")],
    }
    # And the limits are drawn: the reservation and the timeout
    concurrency = widget(widgets, "Function concurrency")["annotations"]["horizontal"]
    assert [(a["value"], a["label"]) for a in concurrency] == [(5, "reserved concurrency")]
    duration = widget(widgets, "Function duration (ms)")["annotations"]["horizontal"]
    assert [(a["value"], a["label"]) for a in duration] == [(10000, "timeout")]


def test_dashboard_shows_the_tables_latency_capacity_and_throttles(
    stack: UsersApiStack, template: Template
) -> None:
    # Given the dashboard and the users table
    widgets = dashboard_widgets(template)
    table = logical_ref(stack, stack.data.table.table_name)
    # Then it graphs the latency of each operation the handler calls, the consumed capacity,
    # and the throttles and system errors
    latency = widget(widgets, "Table latency by operation (ms)")["metrics"]
    assert {(m[1], m[m.index("TableName") + 1], m[m.index("Operation") + 1]) for m in latency} == {
        ("SuccessfulRequestLatency", table, operation) for operation in TABLE_OPERATIONS
    }
    capacity = widget(widgets, "Table consumed capacity")["metrics"]
    assert [m[:4] for m in capacity] == [
        ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", table],
        ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", table],
    ]
    throttles = widget(widgets, "Table throttles and system errors")["metrics"]
    names = {m[1] for m in throttles if isinstance(m[0], str)}
    assert names == {"ThrottledRequests", "SystemErrors"}


def test_dashboard_shows_the_handlers_business_metrics(
    template: Template, environment: str
) -> None:
    # Given the dashboard's business and log widgets
    widgets = dashboard_widgets(template)
    shown = [
        m
        for title in ("Users created, updated, deleted", "Validation failures and ERROR log lines")
        for m in widget(widgets, title)["metrics"]
    ]
    business = [m for m in shown if m[1] in BUSINESS_METRICS]
    # Then they show each business metric by namespace, name and the exact dimensions
    # Powertools writes in the EMF blob, and the ERROR log lines
    assert sorted(m[:6] for m in business) == sorted(
        ["UsersApi", name, "environment", environment, "service", "users-api"]
        for name in BUSINESS_METRICS
    )
    assert all(m[6]["stat"] == "Sum" for m in business)
    assert ["UsersApi", f"ErrorLogLines-{environment}"] in [m[:2] for m in shown]


def test_dashboard_lists_every_alarm(template: Template) -> None:
    # Given the dashboard's alarm status widget
    widgets = dashboard_widgets(template)
    (status,) = [w["properties"] for w in widgets if w["type"] == "alarm"]
    alarm_ids = template.find_resources("AWS::CloudWatch::Alarm")
    # Then it lists every alarm of the stack
    assert sorted(status["alarms"]) == sorted("${" + f"{a}.Arn" + "}" for a in alarm_ids)
