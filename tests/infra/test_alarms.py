"""The alarms: one per signal, each with the environment's metric, statistic, threshold and
evaluation window, named after the stack and notifying the alarm topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.monitoring.metrics import TABLE_OPERATIONS
from infra.names import OutputKeys
from infra.stack import UsersApiStack
from tests.infra.conftest import topic_ref, users_function

GT = "GreaterThanThreshold"
GTE = "GreaterThanOrEqualToThreshold"


@dataclass(frozen=True)
class Expected:
    """One alarm as it must be deployed; `metric` is None for a metric-math alarm."""

    namespace: str
    metric: str | None
    statistic: str
    threshold: float
    comparison: str


# Literal numbers on purpose: a change to a threshold must be a deliberate change here too.
EXPECTED_ALARMS: dict[str, dict[str, Expected]] = {
    "dev": {
        "function-error-rate": Expected("AWS/Lambda", None, "Sum", 10, GT),
        "function-throttles": Expected("AWS/Lambda", "Throttles", "Sum", 5, GTE),
        "function-duration-p99": Expected("AWS/Lambda", "Duration", "p99", 9000, GT),
        "function-concurrency-at-limit": Expected(
            "AWS/Lambda", "ConcurrentExecutions", "Maximum", 5, GTE
        ),
        "api-5xx-rate": Expected("AWS/ApiGateway", "5XXError", "Average", 0.1, GT),
        "api-latency-p99": Expected("AWS/ApiGateway", "Latency", "p99", 5000, GT),
        "api-4xx-rate": Expected("AWS/ApiGateway", "4XXError", "Average", 0.5, GT),
        "table-system-errors": Expected("AWS/DynamoDB", None, "Sum", 1, GTE),
        "table-throttled-requests": Expected("AWS/DynamoDB", None, "Sum", 5, GTE),
        "error-log-lines": Expected("UsersApi", "ErrorLogLines-dev", "Sum", 5, GTE),
    },
    "prod": {
        "function-error-rate": Expected("AWS/Lambda", None, "Sum", 1, GT),
        "function-throttles": Expected("AWS/Lambda", "Throttles", "Sum", 1, GTE),
        "function-duration-p99": Expected("AWS/Lambda", "Duration", "p99", 8000, GT),
        "function-concurrency-at-limit": Expected(
            "AWS/Lambda", "ConcurrentExecutions", "Maximum", 5, GTE
        ),
        "api-5xx-rate": Expected("AWS/ApiGateway", "5XXError", "Average", 0.01, GT),
        "api-latency-p99": Expected("AWS/ApiGateway", "Latency", "p99", 2500, GT),
        "api-4xx-rate": Expected("AWS/ApiGateway", "4XXError", "Average", 0.2, GT),
        "table-system-errors": Expected("AWS/DynamoDB", None, "Sum", 1, GTE),
        "table-throttled-requests": Expected("AWS/DynamoDB", None, "Sum", 1, GTE),
        "error-log-lines": Expected("UsersApi", "ErrorLogLines-prod", "Sum", 1, GTE),
    },
}
# (period in seconds, evaluation periods, datapoints to alarm)
EXPECTED_EVALUATION = {"dev": (300, 3, 2), "prod": (60, 5, 3)}


def alarms_by_name(template: Template) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
    }


def math_parts(alarm: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A metric-math alarm's expression and the metric queries it reads."""
    queries = alarm["Metrics"]
    (expression,) = [q["Expression"] for q in queries if "Expression" in q]
    assert [q["ReturnData"] for q in queries if "Expression" in q] == [True]
    return expression, [q for q in queries if "MetricStat" in q]


def test_exactly_the_expected_alarms_exist_named_after_the_stack(
    template: Template, environment: str
) -> None:
    # Given the synthesized stack
    names = set(alarms_by_name(template))
    # Then it has one alarm per signal, each named <stack name>-<signal>
    assert names == {f"UsersApi-{environment}-{signal}" for signal in EXPECTED_ALARMS[environment]}


def test_every_alarm_has_the_environments_metric_statistic_threshold_and_period(
    template: Template, environment: str
) -> None:
    alarms = alarms_by_name(template)
    period, evaluation_periods, datapoints = EXPECTED_EVALUATION[environment]
    for signal, expected in EXPECTED_ALARMS[environment].items():
        # Given one alarm
        alarm = alarms[f"UsersApi-{environment}-{signal}"]
        # Then it fires on the environment's threshold, over its evaluation window
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
            expected.threshold,
            expected.comparison,
        ), signal
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            evaluation_periods,
            datapoints,
        ), signal
        assert alarm["TreatMissingData"] == "notBreaching", signal
        # And it reads the right metric with the right statistic and period
        if expected.metric is None:
            _, queries = math_parts(alarm)
            stats = {
                (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Stat"]) for q in queries
            }
            assert stats == {(expected.namespace, expected.statistic)}, signal
            assert {q["MetricStat"]["Period"] for q in queries} == {period}, signal
        else:
            assert (alarm["Namespace"], alarm["MetricName"], alarm["Period"]) == (
                expected.namespace,
                expected.metric,
                period,
            ), signal
            statistic = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
            assert statistic == expected.statistic, signal


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(
    template: Template,
) -> None:
    # Given the alarm topic
    topic = topic_ref(template)
    # Then every alarm notifies it on ALARM and on OK, with its actions enabled
    for name, alarm in alarms_by_name(template).items():
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name
        assert alarm.get("ActionsEnabled", True) is True, name


def test_the_alarm_topic_arn_is_an_output(template: Template) -> None:
    # Given the stack's outputs, then one names the topic the alarms notify (to subscribe to it)
    outputs = template.find_outputs(OutputKeys.ALARM_TOPIC_ARN)
    assert outputs[OutputKeys.ALARM_TOPIC_ARN]["Value"] == topic_ref(template)


def test_every_alarm_says_what_to_look_at_first(template: Template) -> None:
    # Given every alarm, then its description names the first thing to check
    for name, alarm in alarms_by_name(template).items():
        assert "First:" in alarm["AlarmDescription"], name


def test_function_alarms_watch_this_function(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the stack's function
    function_dimension = [
        {"Name": "FunctionName", "Value": stack.resolve(stack.service.function.function_name)}
    ]
    alarms = alarms_by_name(template)
    # Then the function's single-metric alarms read its metrics, no other function's
    for signal in ("function-throttles", "function-duration-p99", "function-concurrency-at-limit"):
        assert alarms[f"UsersApi-{environment}-{signal}"]["Dimensions"] == function_dimension


def test_function_errors_alarm_on_a_rate_not_a_count(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the function's error alarm
    alarm = alarms_by_name(template)[f"UsersApi-{environment}-function-error-rate"]
    expression, queries = math_parts(alarm)
    # Then it divides errors by invocations, as a percentage
    assert expression == "100 * errors / invocations"
    function_name = stack.resolve(stack.service.function.function_name)
    assert {q["Id"]: q["MetricStat"]["Metric"] for q in queries} == {
        "errors": {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
        },
        "invocations": {
            "Namespace": "AWS/Lambda",
            "MetricName": "Invocations",
            "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
        },
    }


def test_concurrency_alarm_fires_at_the_reservation_and_duration_near_the_timeout(
    template: Template, environment: str
) -> None:
    # Given the function's limits and its concurrency and duration alarms
    function = users_function(template)["Properties"]
    alarms = alarms_by_name(template)
    concurrency = alarms[f"UsersApi-{environment}-function-concurrency-at-limit"]
    duration = alarms[f"UsersApi-{environment}-function-duration-p99"]
    # Then concurrency fires at the reservation itself, reached (not exceeded: the function
    # can never exceed it)
    assert concurrency["Threshold"] == function["ReservedConcurrentExecutions"]
    assert concurrency["ComparisonOperator"] == GTE
    # And duration fires at a share of the function's own timeout, below it
    assert 0.5 * function["Timeout"] * 1000 < duration["Threshold"] < function["Timeout"] * 1000


def test_api_alarms_watch_this_api_and_stage(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the API's stage
    stage = stack.resolve(stack.api.rest_api.deployment_stage.stage_name)
    alarms = alarms_by_name(template)
    # Then the API alarms read this API's metrics on this stage
    for signal in ("api-5xx-rate", "api-latency-p99", "api-4xx-rate"):
        assert alarms[f"UsersApi-{environment}-{signal}"]["Dimensions"] == [
            {"Name": "ApiName", "Value": f"users-api-{environment}"},
            {"Name": "Stage", "Value": stage},
        ], signal


@pytest.mark.parametrize(
    ("signal", "metric_name"),
    [("table-system-errors", "SystemErrors"), ("table-throttled-requests", "ThrottledRequests")],
)
def test_table_alarms_sum_every_operation_the_handler_calls(
    stack: UsersApiStack, template: Template, environment: str, signal: str, metric_name: str
) -> None:
    # Given a table alarm (DynamoDB reports these per operation)
    alarm = alarms_by_name(template)[f"UsersApi-{environment}-{signal}"]
    expression, queries = math_parts(alarm)
    table = stack.resolve(stack.data.table.table_name)
    # Then it adds up the metric for each operation on this table, a quiet one counting zero
    operations = {}
    for query in queries:
        metric = query["MetricStat"]["Metric"]
        assert metric["MetricName"] == metric_name
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dimensions["TableName"] == table
        operations[dimensions["Operation"]] = query["Id"]
        assert f"FILL({query['Id']}, 0)" in expression
    assert set(operations) == set(TABLE_OPERATIONS)
    assert set(TABLE_OPERATIONS) >= {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan"}


def test_error_log_lines_are_counted_by_a_metric_filter(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the function's log group
    log_group = stack.resolve(stack.service.log_group.log_group_name)
    # Then ERROR (and CRITICAL) structured lines become the metric the alarm watches
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "LogGroupName": log_group,
            "FilterPattern": '{ ($.level = "ERROR") || ($.level = "CRITICAL") }',
            "MetricTransformations": [
                {
                    "MetricNamespace": "UsersApi",
                    "MetricName": f"ErrorLogLines-{environment}",
                    "MetricValue": "1",
                }
            ],
        },
    )
