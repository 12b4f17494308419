"""Operations: the alarm topic, the alarms, one dashboard and saved Logs Insights queries.

Written with `aws_cloudwatch` directly rather than cdk-monitoring-constructs: each alarm below
is one CloudFormation alarm whose metric, statistic, threshold and period read as they will be
deployed (the README's Operations section says why). Every threshold comes from the environment's
`AlarmThresholds`; every alarm notifies the alarm topic when it fires and when it clears.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.api import UsersApi
from infra.function import TIMEOUT as FUNCTION_TIMEOUT
from infra.names import METRICS_NAMESPACE, RESERVED_CONCURRENCY, SERVICE_NAME
from infra.settings import AlarmThresholds, EnvironmentSettings
from users_api.definitions import (
    ENVIRONMENT_DIMENSION,
    METRIC_USER_CREATED,
    METRIC_USER_DELETED,
    METRIC_USER_UPDATED,
    METRIC_VALIDATION_FAILED,
)

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
DASHBOARD_PERIOD = Duration.minutes(1)
# Pasted into the request-trail query in place of a real id (the X-Request-Id header).
REQUEST_ID_PLACEHOLDER = "REPLACE-WITH-REQUEST-ID"
CLOUDWATCH_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


def error_log_metric_name(environment: str) -> str:
    # A metric filter cannot add a literal dimension, so the environment is in the name.
    return f"ErrorLogLines-{environment}"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches, when it fires and what to look at first."""

    id: str
    name: str  # appended to the stack name
    metric: cw.IMetric
    threshold: float
    comparison: cw.ComparisonOperator
    description: str


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        function: lambda_.Function,
        api: UsersApi,
        table: dynamodb.ITable,
        log_group: logs.ILogGroup,
    ):
        super().__init__(scope, construct_id)
        self.settings = settings
        self.thresholds: AlarmThresholds = settings.alarms
        self.function = function
        self.stage = api.rest_api.deployment_stage
        self.table = table
        self.log_group = log_group
        self.topic_key = self._topic_key(settings)
        self.topic = self._topic(settings)
        self.error_log_metric = self._error_log_metric()
        self.alarms = [self._alarm(spec) for spec in self._alarm_specs()]
        self.dashboard = self._dashboard()
        self.queries = self._queries(api.access_log_group)

    @property
    def name_prefix(self) -> str:
        return self.settings.stack_name

    # --- the alarm topic ---------------------------------------------------------------

    def _topic_key(self, settings: EnvironmentSettings) -> kms.Key:
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the {settings.name} users API alarm topic",
            enable_key_rotation=True,
            # Nothing is stored under this key: notifications are delivered, not kept.
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic with this key,
        # on behalf of this stack's alarms only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=CLOUDWATCH_KEY_ACTIONS,
                resources=["*"],
                conditions=self._from_this_stacks_alarms(),
            )
        )
        return key

    def _from_this_stacks_alarms(self) -> dict[str, dict[str, str]]:
        """Conditions that keep CloudWatch from acting for any other account's or stack's alarms."""
        # Every alarm is named after the stack; pseudo parameters hold wherever it is deployed.
        alarms = (
            f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
            f"{self.name_prefix}-*"
        )
        return {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": alarms},
        }

    def _topic(self, settings: EnvironmentSettings) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"Users API {settings.name} alarms",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        # A topic policy replaces SNS's default one: without this Allow, beside the TLS-only
        # Deny, CloudWatch may not publish and alarms would notify nobody.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=self._from_this_stacks_alarms(),
            )
        )
        if settings.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        return topic

    # --- alarms --------------------------------------------------------------------------

    def _alarm_specs(self) -> list[AlarmSpec]:
        return [
            *self._function_alarms(),
            *self._api_alarms(),
            *self._table_alarms(),
            self._log_alarm(),
        ]

    def _function_alarms(self) -> list[AlarmSpec]:
        t, fn = self.thresholds, self.function
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
                    period=self._period,
                ),
                t.function_error_rate_percent,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"More than {t.function_error_rate_percent:g}% of invocations failed. "
                "First: run the 'errors-by-code' Logs Insights query, then the request trail "
                "of one failing request; check the latest deploy and configuration change.",
            ),
            AlarmSpec(
                "FunctionThrottles",
                "function-throttles",
                fn.metric_throttles(statistic="Sum", period=self._period),
                t.function_throttles,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                f"Invocations were throttled: all {RESERVED_CONCURRENCY} reserved executions "
                "were busy and API Gateway answered 503. First: the dashboard's concurrency and "
                "duration graphs (slow calls hold executions longer), then the API request rate.",
            ),
            AlarmSpec(
                "FunctionDurationP99",
                "function-duration-p99",
                fn.metric_duration(statistic="p99", period=self._period),
                duration_limit,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"p99 duration is above {duration_limit:g} ms, near the "
                f"{timeout.to_seconds():g} s timeout. First: the table latency graph and the "
                "'slowest-requests' query; look for timeouts in the function's log.",
            ),
            AlarmSpec(
                "FunctionConcurrencyAtLimit",
                "function-concurrency-at-limit",
                fn.metric("ConcurrentExecutions", statistic="Maximum", period=self._period),
                RESERVED_CONCURRENCY,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                f"Concurrent executions reached the reservation of {RESERVED_CONCURRENCY}; the "
                "next request is throttled. First: the API request rate (a burst or a client "
                "retry loop?) and the function's duration.",
            ),
        ]

    def _api_alarms(self) -> list[AlarmSpec]:
        t, stage = self.thresholds, self.stage
        return [
            AlarmSpec(
                "Api5xxRate",
                "api-5xx-rate",
                # The Average of 5XXError is the share of requests that failed (0 to 1).
                stage.metric_server_error(statistic="Average", period=self._period),
                t.api_5xx_rate_percent / 100,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"More than {t.api_5xx_rate_percent:g}% of API requests answered 5XX. First: "
                "the function's errors and throttles on the dashboard (503s are throttles), "
                "then the 'errors-by-code' query.",
            ),
            AlarmSpec(
                "ApiLatencyP99",
                "api-latency-p99",
                stage.metric_latency(statistic="p99", period=self._period),
                t.api_latency_p99_ms,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"p99 API latency is above {t.api_latency_p99_ms} ms. First: compare with the "
                "function's duration (cold starts, table latency); if the function is fast, "
                "look at API Gateway's integration latency.",
            ),
            AlarmSpec(
                "Api4xxRate",
                "api-4xx-rate",
                stage.metric_client_error(statistic="Average", period=self._period),
                t.api_4xx_rate_percent / 100,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"More than {t.api_4xx_rate_percent:g}% of API requests answered 4XX: a broken "
                "client release or an attack. First: the 'errors-by-code' query (which code?) "
                "and the access log's callers (ip, path) for the period.",
            ),
        ]

    def _table_alarms(self) -> list[AlarmSpec]:
        t = self.thresholds
        return [
            AlarmSpec(
                "TableSystemErrors",
                "table-system-errors",
                self.table_operations_sum("SystemErrors", period=self._period),
                t.table_system_errors,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                "DynamoDB answered requests with a 500 (a service-side error). First: the AWS "
                "Health Dashboard for DynamoDB in this region; the SDK retries, so check whether "
                "the API's 5XX rate moved too.",
            ),
            AlarmSpec(
                "TableThrottledRequests",
                "table-throttled-requests",
                self.table_operations_sum("ThrottledRequests", period=self._period),
                t.table_throttled_requests,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                "DynamoDB throttled requests. The table is on demand, so a sudden peak above "
                "twice the previous one or a hot partition key. First: the table's consumed "
                "capacity graph and the API request rate; scans of the whole table are heavy.",
            ),
        ]

    def table_operations_sum(
        self, metric_name: str, *, period: Duration, label: str | None = None
    ) -> cw.MathExpression:
        """A table metric that DynamoDB reports per operation, summed over the handler's calls.

        A quiet operation has no data points; FILL counts it as zero instead of dropping the
        whole sum for that period.
        """
        prefix = metric_name.lower()
        using = {
            f"{prefix}_{operation.lower()}": self.table.metric(
                metric_name,
                dimensions_map={"TableName": self.table.table_name, "Operation": operation},
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

    def _log_alarm(self) -> AlarmSpec:
        t = self.thresholds
        return AlarmSpec(
            "ErrorLogLines",
            "error-log-lines",
            self.error_log_metric,
            t.error_log_lines,
            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            "The function logged ERROR lines. First: the 'errors-by-code' query; an ERROR "
            "without a code is an unhandled exception with its stack trace in the log.",
        )

    def _error_log_metric(self) -> cw.Metric:
        metric_filter = logs.MetricFilter(
            self,
            "ErrorLogLinesFilter",
            log_group=self.log_group,
            filter_pattern=ERROR_LOG_PATTERN,
            metric_namespace=METRICS_NAMESPACE,
            metric_name=error_log_metric_name(self.settings.name),
            metric_value="1",
        )
        return metric_filter.metric(statistic="Sum", period=self._period)

    def _alarm(self, spec: AlarmSpec) -> cw.Alarm:
        t = self.thresholds
        alarm = cw.Alarm(
            self,
            spec.id,
            metric=spec.metric,
            alarm_name=f"{self.name_prefix}-{spec.name}",
            alarm_description=spec.description,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            evaluation_periods=t.evaluation_periods,
            datapoints_to_alarm=t.datapoints_to_alarm,
            # No traffic is not a failure: a quiet period leaves the alarm OK.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm

    @property
    def _period(self) -> Duration:
        return Duration.seconds(self.thresholds.period_seconds)

    # --- the dashboard ---------------------------------------------------------------------

    def _dashboard(self) -> cw.Dashboard:
        dashboard = cw.Dashboard(
            self,
            "Dashboard",
            # One per stack: on-call finds `UsersApi-<environment>` by name.
            dashboard_name=self.name_prefix,
            default_interval=Duration.hours(3),
        )
        for row in (
            self._api_widgets(),
            self._function_widgets(),
            self._table_widgets(),
            self._business_widgets(),
            [cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24)],
        ):
            dashboard.add_widgets(*row)
        return dashboard

    def _api_widgets(self) -> list[cw.IWidget]:
        stage = self.stage
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
            self._header(f"API `{stage.rest_api.rest_api_name}`, stage `{stage.stage_name}`"),
            self._graph(
                "API requests",
                [stage.metric_count(statistic="Sum", period=DASHBOARD_PERIOD, label="Requests")],
            ),
            self._graph(
                "API latency (ms)",
                latency,
                annotation=(self.thresholds.api_latency_p99_ms, "p99 alarm"),
            ),
            self._graph(
                "API errors",
                [
                    stage.metric_client_error(
                        statistic="Sum", period=DASHBOARD_PERIOD, label="4XX"
                    ),
                    stage.metric_server_error(
                        statistic="Sum", period=DASHBOARD_PERIOD, label="5XX"
                    ),
                ],
            ),
        ]

    def _function_widgets(self) -> list[cw.IWidget]:
        fn = self.function
        timeout = FUNCTION_TIMEOUT.to_milliseconds()
        return [
            self._header("Function"),
            self._graph(
                "Function invocations",
                [fn.metric_invocations(statistic="Sum", period=DASHBOARD_PERIOD)],
            ),
            self._graph(
                "Function duration (ms)",
                [
                    fn.metric_duration(statistic=stat, period=DASHBOARD_PERIOD, label=stat)
                    for stat in ("p50", "p99", "Maximum")
                ],
                annotation=(timeout, "timeout"),
            ),
            self._graph(
                "Function errors and throttles",
                [
                    fn.metric_errors(statistic="Sum", period=DASHBOARD_PERIOD, label="Errors"),
                    fn.metric_throttles(
                        statistic="Sum", period=DASHBOARD_PERIOD, label="Throttles"
                    ),
                ],
            ),
            self._graph(
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

    def _table_widgets(self) -> list[cw.IWidget]:
        table = self.table
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
            self._header("Table"),
            self._graph("Table latency by operation (ms)", latency),
            self._graph(
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
            self._graph(
                "Table throttles and system errors",
                [
                    self.table_operations_sum(
                        "ThrottledRequests", period=DASHBOARD_PERIOD, label="Throttled requests"
                    ),
                    self.table_operations_sum(
                        "SystemErrors", period=DASHBOARD_PERIOD, label="System errors"
                    ),
                ],
            ),
        ]

    def _business_widgets(self) -> list[cw.IWidget]:
        return [
            self._header(f"Business metrics (namespace `{METRICS_NAMESPACE}`)"),
            self._graph(
                "Users created, updated, deleted",
                [
                    self.business_metric(name)
                    for name in (METRIC_USER_CREATED, METRIC_USER_UPDATED, METRIC_USER_DELETED)
                ],
                width=12,
            ),
            self._graph(
                "Validation failures and ERROR log lines",
                [
                    self.business_metric(METRIC_VALIDATION_FAILED),
                    self.error_log_metric.with_(period=DASHBOARD_PERIOD, label="ERROR log lines"),
                ],
                width=12,
            ),
        ]

    def business_metric(self, name: str) -> cw.Metric:
        return cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={
                SERVICE_DIMENSION: SERVICE_NAME,
                ENVIRONMENT_DIMENSION: self.settings.name,
            },
            statistic="Sum",
            period=DASHBOARD_PERIOD,
            label=name,
        )

    @staticmethod
    def _header(title: str) -> cw.TextWidget:
        return cw.TextWidget(markdown=f"## {title}", width=24, height=1)

    @staticmethod
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

    # --- saved Logs Insights queries ---------------------------------------------------------

    def _queries(self, access_log_group: logs.ILogGroup) -> list[logs.QueryDefinition]:
        prefix = self.name_prefix
        return [
            logs.QueryDefinition(
                self,
                "RequestTrailQuery",
                query_definition_name=f"{prefix}/request-trail",
                log_groups=[self.log_group, access_log_group],
                query_string=logs.QueryString(
                    fields=[
                        "@timestamp",
                        "@log",
                        "level",
                        "message",
                        "status",
                        "code",
                        "httpMethod",
                        "resourcePath",
                    ],
                    # The API's request id (X-Request-Id, the error body's requestId) is the
                    # access log's requestId and the handler's correlation_id; the Lambda
                    # request id finds the handler's lines too.
                    filter_statements=[
                        " or ".join(
                            f'{field} = "{REQUEST_ID_PLACEHOLDER}"'
                            for field in (
                                "requestId",
                                "correlation_id",
                                "request_id",
                                "function_request_id",
                            )
                        )
                    ],
                    sort="@timestamp asc",
                    limit=500,
                ),
            ),
            logs.QueryDefinition(
                self,
                "SlowestRequestsQuery",
                query_definition_name=f"{prefix}/slowest-requests",
                log_groups=[self.log_group],
                query_string=logs.QueryString(
                    # Lambda's JSON log format reports each invocation as platform.report;
                    # the text format as a REPORT line with @duration.
                    fields=[
                        "@timestamp",
                        "coalesce(record.requestId, @requestId) as lambdaRequestId",
                        "coalesce(record.metrics.durationMs, @duration) as durationMs",
                        "record.metrics.initDurationMs as initDurationMs",
                        "coalesce(record.metrics.maxMemoryUsedMB, @maxMemoryUsed / 1000000)"
                        " as maxMemoryUsedMB",
                    ],
                    filter_statements=['type = "platform.report" or @type = "REPORT"'],
                    sort="durationMs desc",
                    limit=25,
                ),
            ),
            logs.QueryDefinition(
                self,
                "ErrorsByCodeQuery",
                query_definition_name=f"{prefix}/errors-by-code",
                log_groups=[self.log_group],
                query_string=logs.QueryString(
                    # An ERROR line without a code is an unhandled exception.
                    fields=['coalesce(code, "UNHANDLED") as errorCode', "level"],
                    filter_statements=['level = "ERROR" or level = "CRITICAL" or ispresent(code)'],
                    stats_statements=["count(*) as occurrences by errorCode, level"],
                    sort="occurrences desc",
                ),
            ),
        ]
