"""What monitoring watches, and the metrics both the alarms and the dashboard read that no
construct offers ready-made: the table's per-operation sums, the handler's business metrics
and the count of the function's ERROR log lines."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.names import METRICS_NAMESPACE, SERVICE_NAME
from infra.settings import AlarmThresholds, EnvironmentSettings
from users_api.definitions import ENVIRONMENT_DIMENSION

# The handler's Powertools business metrics (users_api.definitions) are each a Count with the
# dimensions `service` (POWERTOOLS_SERVICE_NAME) and `environment`.
SERVICE_DIMENSION = "service"

# The table calls the handler's repository makes, as DynamoDB's `Operation` dimension names
# them; DynamoDB reports latency, errors and throttles per operation.
TABLE_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "TransactWriteItems")

# Powertools and Lambda's JSON log format both write the level as `level`.
ERROR_LOG_PATTERN = logs.FilterPattern.any(
    logs.FilterPattern.string_value("$.level", "=", "ERROR"),
    logs.FilterPattern.string_value("$.level", "=", "CRITICAL"),
)


@dataclass(frozen=True)
class Watched:
    """The resources the alarms and the dashboard read their metrics from."""

    function: lambda_.IFunction
    stage: apigw.Stage
    table: dynamodb.ITable
    error_log_lines: cw.Metric  # at the alarms' period


def alarm_period(thresholds: AlarmThresholds) -> Duration:
    return Duration.seconds(thresholds.period_seconds)


def error_log_metric_name(environment: str) -> str:
    # A metric filter cannot add a literal dimension, so the environment is in the name.
    return f"ErrorLogLines-{environment}"


def add_error_log_metric(
    scope: Construct, settings: EnvironmentSettings, log_group: logs.ILogGroup
) -> cw.Metric:
    """The function's ERROR (and CRITICAL) log lines, counted by a metric filter."""
    metric_filter = logs.MetricFilter(
        scope,
        "ErrorLogLinesFilter",
        log_group=log_group,
        filter_pattern=ERROR_LOG_PATTERN,
        metric_namespace=METRICS_NAMESPACE,
        metric_name=error_log_metric_name(settings.name),
        metric_value="1",
    )
    return metric_filter.metric(statistic="Sum", period=alarm_period(settings.alarms))


def table_operations_sum(
    table: dynamodb.ITable, metric_name: str, *, period: Duration, label: str | None = None
) -> cw.MathExpression:
    """A table metric that DynamoDB reports per operation, summed over the handler's calls.

    A quiet operation has no data points; FILL counts it as zero instead of dropping the
    whole sum for that period.
    """
    prefix = metric_name.lower()
    using = {
        f"{prefix}_{operation.lower()}": table.metric(
            metric_name,
            dimensions_map={"TableName": table.table_name, "Operation": operation},
            statistic="Sum",
            period=period,
        )
        for operation in TABLE_OPERATIONS
    }
    return cw.MathExpression(
        expression=" + ".join(f"FILL({metric_id}, 0)" for metric_id in using),
        using_metrics=using,
        label=label or f"{metric_name} (all operations)",
        period=period,
    )


def business_metric(name: str, *, environment: str, period: Duration) -> cw.Metric:
    """One of the handler's business metrics, with the exact dimensions Powertools writes."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={
            SERVICE_DIMENSION: SERVICE_NAME,
            ENVIRONMENT_DIMENSION: environment,
        },
        statistic="Sum",
        period=period,
        label=name,
    )
