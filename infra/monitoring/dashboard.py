"""The stack's one dashboard: a row each for the API, the function (against its limits), the
table and the handler's business metrics, then every alarm's state."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.function import TIMEOUT as FUNCTION_TIMEOUT
from infra.monitoring.metrics import (
    TABLE_OPERATIONS,
    Watched,
    business_metric,
    table_operations_sum,
)
from infra.names import METRICS_NAMESPACE, RESERVED_CONCURRENCY
from infra.settings import AlarmThresholds, EnvironmentSettings
from users_api.definitions import (
    METRIC_USER_CREATED,
    METRIC_USER_DELETED,
    METRIC_USER_UPDATED,
    METRIC_VALIDATION_FAILED,
)

DASHBOARD_PERIOD = Duration.minutes(1)


def add_dashboard(
    scope: Construct,
    settings: EnvironmentSettings,
    watched: Watched,
    *,
    alarms: Sequence[cw.IAlarm],
) -> cw.Dashboard:
    dashboard = cw.Dashboard(
        scope,
        "Dashboard",
        # One per stack: on-call finds `UsersApi-<environment>` by name.
        dashboard_name=settings.stack_name,
        default_interval=Duration.hours(3),
    )
    for row in (
        _api_widgets(watched.stage, settings.alarms),
        _function_widgets(watched.function),
        _table_widgets(watched.table),
        _business_widgets(watched.error_log_lines, settings.name),
        [cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24)],
    ):
        dashboard.add_widgets(*row)
    return dashboard


def _api_widgets(stage: apigw.Stage, thresholds: AlarmThresholds) -> list[cw.IWidget]:
    latency = [
        stage.metric_latency(statistic=stat, period=DASHBOARD_PERIOD, label=f"Latency {stat}")
        for stat in ("p50", "p90", "p99")
    ]
    latency.append(
        stage.metric_integration_latency(
            statistic="p99", period=DASHBOARD_PERIOD, label="Integration latency p99"
        )
    )
    return [
        _header(f"API `{stage.rest_api.rest_api_name}`, stage `{stage.stage_name}`"),
        _graph(
            "API requests",
            [stage.metric_count(statistic="Sum", period=DASHBOARD_PERIOD, label="Requests")],
        ),
        _graph(
            "API latency (ms)",
            latency,
            annotation=(thresholds.api_latency_p99_ms, "p99 alarm"),
        ),
        _graph(
            "API errors",
            [
                stage.metric_client_error(statistic="Sum", period=DASHBOARD_PERIOD, label="4XX"),
                stage.metric_server_error(statistic="Sum", period=DASHBOARD_PERIOD, label="5XX"),
            ],
        ),
    ]


def _function_widgets(fn: lambda_.IFunction) -> list[cw.IWidget]:
    timeout = FUNCTION_TIMEOUT.to_milliseconds()
    return [
        _header("Function"),
        _graph(
            "Function invocations",
            [fn.metric_invocations(statistic="Sum", period=DASHBOARD_PERIOD)],
        ),
        _graph(
            "Function duration (ms)",
            [
                fn.metric_duration(statistic=stat, period=DASHBOARD_PERIOD, label=stat)
                for stat in ("p50", "p99", "Maximum")
            ],
            annotation=(timeout, "timeout"),
        ),
        _graph(
            "Function errors and throttles",
            [
                fn.metric_errors(statistic="Sum", period=DASHBOARD_PERIOD, label="Errors"),
                fn.metric_throttles(statistic="Sum", period=DASHBOARD_PERIOD, label="Throttles"),
            ],
        ),
        _graph(
            "Function concurrency",
            [
                fn.metric(
                    "ConcurrentExecutions",
                    statistic="Maximum",
                    period=DASHBOARD_PERIOD,
                    label="Concurrent executions",
                )
            ],
            annotation=(RESERVED_CONCURRENCY, "reserved concurrency"),
        ),
    ]


def _table_widgets(table: dynamodb.ITable) -> list[cw.IWidget]:
    latency = [
        table.metric_successful_request_latency(
            dimensions_map={"TableName": table.table_name, "Operation": operation},
            statistic="Average",
            period=DASHBOARD_PERIOD,
            label=operation,
        )
        for operation in TABLE_OPERATIONS
    ]
    return [
        _header("Table"),
        _graph("Table latency by operation (ms)", latency),
        _graph(
            "Table consumed capacity",
            [
                table.metric_consumed_read_capacity_units(
                    statistic="Sum", period=DASHBOARD_PERIOD, label="Read units"
                ),
                table.metric_consumed_write_capacity_units(
                    statistic="Sum", period=DASHBOARD_PERIOD, label="Write units"
                ),
            ],
        ),
        _graph(
            "Table throttles and system errors",
            [
                table_operations_sum(
                    table, "ThrottledRequests", period=DASHBOARD_PERIOD, label="Throttled requests"
                ),
                table_operations_sum(
                    table, "SystemErrors", period=DASHBOARD_PERIOD, label="System errors"
                ),
            ],
        ),
    ]


def _business_widgets(error_log_lines: cw.Metric, environment: str) -> list[cw.IWidget]:
    def business(name: str) -> cw.Metric:
        return business_metric(name, environment=environment, period=DASHBOARD_PERIOD)

    return [
        _header(f"Business metrics (namespace `{METRICS_NAMESPACE}`)"),
        _graph(
            "Users created, updated, deleted",
            [
                business(name)
                for name in (METRIC_USER_CREATED, METRIC_USER_UPDATED, METRIC_USER_DELETED)
            ],
            width=12,
        ),
        _graph(
            "Validation failures and ERROR log lines",
            [
                business(METRIC_VALIDATION_FAILED),
                error_log_lines.with_(period=DASHBOARD_PERIOD, label="ERROR log lines"),
            ],
            width=12,
        ),
    ]


def _header(title: str) -> cw.TextWidget:
    return cw.TextWidget(markdown=f"## {title}", width=24, height=1)


def _graph(
    title: str,
    metrics: Sequence[cw.IMetric],
    *,
    annotation: tuple[float, str] | None = None,
    width: int = 8,
) -> cw.GraphWidget:
    return cw.GraphWidget(
        title=title,
        left=list(metrics),
        left_annotations=(
            [cw.HorizontalAnnotation(value=annotation[0], label=annotation[1])]
            if annotation
            else None
        ),
        width=width,
        height=6,
    )
