"""The alarms: one spec per signal of the function, the API, the table and the log, and the one
way each becomes an alarm named after the stack that notifies the topic when it fires and
when it clears."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.function import TIMEOUT as FUNCTION_TIMEOUT
from infra.monitoring.metrics import Watched, alarm_period, table_operations_sum
from infra.monitoring.queries import ERRORS_BY_CODE, SLOWEST_REQUESTS
from infra.names import RESERVED_CONCURRENCY
from infra.settings import AlarmThresholds, EnvironmentSettings

GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
GTE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches, when it fires and what to look at first."""

    id: str
    name: str  # appended to the stack name
    metric: cw.IMetric
    threshold: float
    comparison: cw.ComparisonOperator
    description: str


def alarm_name(settings: EnvironmentSettings, signal: str) -> str:
    return f"{settings.stack_name}-{signal}"


def add_alarms(
    scope: Construct, settings: EnvironmentSettings, watched: Watched, *, topic: sns.ITopic
) -> list[cw.Alarm]:
    return [_alarm(scope, settings, spec, topic) for spec in _alarm_specs(watched, settings.alarms)]


def _alarm_specs(watched: Watched, thresholds: AlarmThresholds) -> list[AlarmSpec]:
    period = alarm_period(thresholds)
    return [
        *_function_alarms(watched.function, thresholds, period),
        *_api_alarms(watched.stage, thresholds, period),
        *_table_alarms(watched.table, thresholds, period),
        _log_alarm(watched.error_log_lines, thresholds),
    ]


def _alarm(
    scope: Construct, settings: EnvironmentSettings, spec: AlarmSpec, topic: sns.ITopic
) -> cw.Alarm:
    t = settings.alarms
    alarm = cw.Alarm(
        scope,
        spec.id,
        metric=spec.metric,
        alarm_name=alarm_name(settings, spec.name),
        alarm_description=spec.description,
        threshold=spec.threshold,
        comparison_operator=spec.comparison,
        evaluation_periods=t.evaluation_periods,
        datapoints_to_alarm=t.datapoints_to_alarm,
        # No traffic is not a failure: a quiet period leaves the alarm OK.
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )
    action = cw_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm


def _function_alarms(
    fn: lambda_.IFunction, t: AlarmThresholds, period: Duration
) -> list[AlarmSpec]:
    timeout = FUNCTION_TIMEOUT
    duration_limit = timeout.to_milliseconds() * t.function_duration_timeout_ratio
    return [
        AlarmSpec(
            "FunctionErrorRate",
            "function-error-rate",
            cw.MathExpression(
                expression="100 * errors / invocations",
                using_metrics={
                    "errors": fn.metric_errors(statistic="Sum"),
                    "invocations": fn.metric_invocations(statistic="Sum"),
                },
                label="Function error rate (%)",
                period=period,
            ),
            t.function_error_rate_percent,
            GT,
            f"More than {t.function_error_rate_percent:g}% of invocations failed. "
            f"First: run the '{ERRORS_BY_CODE}' Logs Insights query, then the request trail "
            "of one failing request; check the latest deploy and configuration change.",
        ),
        AlarmSpec(
            "FunctionThrottles",
            "function-throttles",
            fn.metric_throttles(statistic="Sum", period=period),
            t.function_throttles,
            GTE,
            f"Invocations were throttled: all {RESERVED_CONCURRENCY} reserved executions "
            "were busy and API Gateway answered 503. First: the dashboard's concurrency and "
            "duration graphs (slow calls hold executions longer), then the API request rate.",
        ),
        AlarmSpec(
            "FunctionDurationP99",
            "function-duration-p99",
            fn.metric_duration(statistic="p99", period=period),
            duration_limit,
            GT,
            f"p99 duration is above {duration_limit:g} ms, near the "
            f"{timeout.to_seconds():g} s timeout. First: the table latency graph and the "
            f"'{SLOWEST_REQUESTS}' query; look for timeouts in the function's log.",
        ),
        AlarmSpec(
            "FunctionConcurrencyAtLimit",
            "function-concurrency-at-limit",
            fn.metric("ConcurrentExecutions", statistic="Maximum", period=period),
            RESERVED_CONCURRENCY,
            GTE,
            f"Concurrent executions reached the reservation of {RESERVED_CONCURRENCY}; the "
            "next request is throttled. First: the API request rate (a burst or a client "
            "retry loop?) and the function's duration.",
        ),
    ]


def _api_alarms(stage: apigw.Stage, t: AlarmThresholds, period: Duration) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            "Api5xxRate",
            "api-5xx-rate",
            # The Average of 5XXError is the share of requests that failed (0 to 1).
            stage.metric_server_error(statistic="Average", period=period),
            t.api_5xx_rate_percent / 100,
            GT,
            f"More than {t.api_5xx_rate_percent:g}% of API requests answered 5XX. First: "
            "the function's errors and throttles on the dashboard (503s are throttles), "
            f"then the '{ERRORS_BY_CODE}' query.",
        ),
        AlarmSpec(
            "ApiLatencyP99",
            "api-latency-p99",
            stage.metric_latency(statistic="p99", period=period),
            t.api_latency_p99_ms,
            GT,
            f"p99 API latency is above {t.api_latency_p99_ms} ms. First: compare with the "
            "function's duration (cold starts, table latency); if the function is fast, "
            "look at API Gateway's integration latency.",
        ),
        AlarmSpec(
            "Api4xxRate",
            "api-4xx-rate",
            stage.metric_client_error(statistic="Average", period=period),
            t.api_4xx_rate_percent / 100,
            GT,
            f"More than {t.api_4xx_rate_percent:g}% of API requests answered 4XX: a broken "
            f"client release or an attack. First: the '{ERRORS_BY_CODE}' query (which code?) "
            "and the access log's callers (ip, path) for the period.",
        ),
    ]


def _table_alarms(table: dynamodb.ITable, t: AlarmThresholds, period: Duration) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            "TableSystemErrors",
            "table-system-errors",
            table_operations_sum(table, "SystemErrors", period=period),
            t.table_system_errors,
            GTE,
            "DynamoDB answered requests with a 500 (a service-side error). First: the AWS "
            "Health Dashboard for DynamoDB in this region; the function retries inside each "
            "request's deadline, so check whether the API's 5XX rate moved too.",
        ),
        AlarmSpec(
            "TableThrottledRequests",
            "table-throttled-requests",
            table_operations_sum(table, "ThrottledRequests", period=period),
            t.table_throttled_requests,
            GTE,
            "DynamoDB throttled requests. The table is on demand, so a sudden peak above "
            "twice the previous one or a hot partition key. First: the table's consumed "
            "capacity graph and the API request rate; scans of the whole table are heavy.",
        ),
    ]


def _log_alarm(error_log_lines: cw.IMetric, t: AlarmThresholds) -> AlarmSpec:
    return AlarmSpec(
        "ErrorLogLines",
        "error-log-lines",
        error_log_lines,
        t.error_log_lines,
        GTE,
        f"The function logged ERROR lines. First: the '{ERRORS_BY_CODE}' query; an ERROR "
        "without a code is an unhandled exception with its stack trace in the log.",
    )
