"""Operations: every alarm, the alarm topic, the dashboard and the saved queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.monitoring.metrics import TABLE_OPERATIONS
from infra.settings import ConfigurationError, ContextReader, alarm_email
from infra.stack import UsersApiStack
from tests.infra.conftest import only_resource, synth
from users_api.definitions import BUSINESS_METRICS

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


def topic_ref(template: Template) -> dict[str, str]:
    (logical_id,) = template.find_resources("AWS::SNS::Topic")
    return {"Ref": logical_id}


def math_parts(alarm: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A metric-math alarm's expression and the metric queries it reads."""
    queries = alarm["Metrics"]
    (expression,) = [q["Expression"] for q in queries if "Expression" in q]
    assert [q["ReturnData"] for q in queries if "Expression" in q] == [True]
    return expression, [q for q in queries if "MetricStat" in q]


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


# --- alarms --------------------------------------------------------------------------------


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
    topic = topic_ref(template)
    for name, alarm in alarms_by_name(template).items():
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name
        assert alarm.get("ActionsEnabled", True) is True, name


def test_every_alarm_says_what_to_look_at_first(template: Template) -> None:
    for name, alarm in alarms_by_name(template).items():
        assert "First:" in alarm["AlarmDescription"], name


def test_function_alarms_watch_this_function(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    function_dimension = [
        {"Name": "FunctionName", "Value": stack.resolve(stack.service.function.function_name)}
    ]
    alarms = alarms_by_name(template)
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
    function = only_resource(template, "AWS::Lambda::Function")["Properties"]
    alarms = alarms_by_name(template)
    concurrency = alarms[f"UsersApi-{environment}-function-concurrency-at-limit"]
    duration = alarms[f"UsersApi-{environment}-function-duration-p99"]
    # The reservation itself, reached (not exceeded: the function can never exceed it)
    assert concurrency["Threshold"] == function["ReservedConcurrentExecutions"]
    assert concurrency["ComparisonOperator"] == GTE
    # A share of the function's own timeout, below it
    assert 0.5 * function["Timeout"] * 1000 < duration["Threshold"] < function["Timeout"] * 1000


def test_api_alarms_watch_this_api_and_stage(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    stage = stack.resolve(stack.api.rest_api.deployment_stage.stage_name)
    alarms = alarms_by_name(template)
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


# --- the alarm topic -------------------------------------------------------------------------


def from_this_stacks_alarms(environment: str) -> dict[str, Any]:
    """CloudWatch may act only for this account's alarms named after this stack."""
    return {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":cloudwatch:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        f":alarm:UsersApi-{environment}-*",
                    ],
                ]
            }
        },
    }


def test_alarm_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use(
    template: Template, environment: str
) -> None:
    # Given the alarm topic
    topic = only_resource(template, "AWS::SNS::Topic")["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    # Then its key rotates and lets CloudWatch encrypt notifications for this stack's alarms
    key = template.to_json()["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        statement
        for statement in key["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch == [
        {
            "Sid": "AllowCloudWatchAlarmsToUseTheKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": from_this_stacks_alarms(environment),
        }
    ]


def test_alarm_topic_accepts_this_stacks_alarms_and_refuses_publishing_without_tls(
    template: Template, environment: str
) -> None:
    # Given the topic's policy, which replaces SNS's default policy
    policy = only_resource(template, "AWS::SNS::TopicPolicy")["Properties"]
    assert policy["Topics"] == [topic_ref(template)]
    # Then it holds exactly the TLS-only Deny and CloudWatch's scoped Allow
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "AllowPublishThroughSSLOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_ref(template),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "AllowCloudWatchAlarmsToPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_ref(template),
            "Condition": from_this_stacks_alarms(environment),
        },
    ]


def test_no_email_subscription_unless_configured(template: Template) -> None:
    template.resource_count_is("AWS::SNS::Subscription", 0)


def test_alarm_email_from_context_subscribes_to_the_topic() -> None:
    # Given an alarm e-mail in the context
    _, template = synth({"environment": "prod", "alarmEmail": "oncall@example.com"})
    # Then the alarm topic has an e-mail subscription for it
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": topic_ref(template)},
    )


def reader(values: dict[str, str]) -> ContextReader:
    return lambda key: values.get(key)


def test_alarm_email_comes_from_context_first_then_the_environment() -> None:
    context = {"alarmEmail": "context@example.com"}
    environ = {"ALARM_EMAIL": "environ@example.com"}
    assert alarm_email(reader(context), environ) == "context@example.com"
    assert alarm_email(reader({}), environ) == "environ@example.com"
    assert alarm_email(reader({}), {}) is None
    assert alarm_email(reader({"alarmEmail": ""}), {"ALARM_EMAIL": " "}) is None


def test_an_alarm_email_that_is_not_an_address_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not an e-mail address"):
        alarm_email(reader({"alarmEmail": "oncall"}), {})


# --- the dashboard ---------------------------------------------------------------------------


def test_one_dashboard_named_after_the_stack(template: Template, environment: str) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": f"UsersApi-{environment}"}
    )


def test_dashboard_shows_the_api_requests_latency_and_errors(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    widgets = dashboard_widgets(template)
    stage = logical_ref(stack, stack.api.rest_api.deployment_stage.stage_name)
    api = ["AWS/ApiGateway"]
    dims = ["ApiName", f"users-api-{environment}", "Stage", stage]
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
    # The limits are drawn: the reservation and the timeout
    concurrency = widget(widgets, "Function concurrency")["annotations"]["horizontal"]
    assert [(a["value"], a["label"]) for a in concurrency] == [(5, "reserved concurrency")]
    duration = widget(widgets, "Function duration (ms)")["annotations"]["horizontal"]
    assert [(a["value"], a["label"]) for a in duration] == [(10000, "timeout")]


def test_dashboard_shows_the_tables_latency_capacity_and_throttles(
    stack: UsersApiStack, template: Template
) -> None:
    widgets = dashboard_widgets(template)
    table = logical_ref(stack, stack.data.table.table_name)
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
    widgets = dashboard_widgets(template)
    shown = [
        m
        for title in ("Users created, updated, deleted", "Validation failures and ERROR log lines")
        for m in widget(widgets, title)["metrics"]
    ]
    business = [m for m in shown if m[1] in BUSINESS_METRICS]
    # Namespace, name and the exact dimensions Powertools writes in the EMF blob
    assert sorted(m[:6] for m in business) == sorted(
        ["UsersApi", name, "environment", environment, "service", "users-api"]
        for name in BUSINESS_METRICS
    )
    assert all(m[6]["stat"] == "Sum" for m in business)
    assert ["UsersApi", f"ErrorLogLines-{environment}"] in [m[:2] for m in shown]


def test_dashboard_lists_every_alarm(template: Template) -> None:
    widgets = dashboard_widgets(template)
    (status,) = [w["properties"] for w in widgets if w["type"] == "alarm"]
    alarm_ids = template.find_resources("AWS::CloudWatch::Alarm")
    assert sorted(status["alarms"]) == sorted("${" + f"{a}.Arn" + "}" for a in alarm_ids)


# --- saved queries ---------------------------------------------------------------------------


def test_saved_queries_for_on_call(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the saved Logs Insights queries
    queries = {
        q["Properties"]["Name"]: q["Properties"]
        for q in template.find_resources("AWS::Logs::QueryDefinition").values()
    }
    function_logs = stack.resolve(stack.service.log_group.log_group_name)
    access_logs = stack.resolve(stack.api.access_log_group.log_group_name)
    prefix = f"UsersApi-{environment}"
    # Then there is one per question an on-call engineer asks first
    assert set(queries) == {
        f"{prefix}/request-trail",
        f"{prefix}/slowest-requests",
        f"{prefix}/errors-by-code",
    }
    trail = queries[f"{prefix}/request-trail"]
    assert trail["LogGroupNames"] == [function_logs, access_logs]
    assert 'correlation_id = "REPLACE-WITH-REQUEST-ID"' in trail["QueryString"]
    assert 'requestId = "REPLACE-WITH-REQUEST-ID"' in trail["QueryString"]
    assert "| sort @timestamp asc" in trail["QueryString"]
    slowest = queries[f"{prefix}/slowest-requests"]
    assert slowest["LogGroupNames"] == [function_logs]
    assert "| sort durationMs desc" in slowest["QueryString"]
    errors = queries[f"{prefix}/errors-by-code"]
    assert errors["LogGroupNames"] == [function_logs]
    assert "| stats count(*) as occurrences by errorCode, level" in errors["QueryString"]
