"""Operations: the alarm topic, the alarms, one dashboard and saved Logs Insights queries.

Written with `aws_cloudwatch` directly rather than cdk-monitoring-constructs: each alarm is one
CloudFormation alarm whose metric, statistic, threshold and period read as they will be deployed
(docs/operations.md says why). Every threshold comes from the environment's
`AlarmThresholds`; every alarm notifies the alarm topic when it fires and when it clears.

The parts add their resources directly to this construct, not to nested ones: a logical id
follows the construct path, so moving code between the parts never replaces a resource.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.api import UsersApi
from infra.monitoring.alarms import add_alarms
from infra.monitoring.dashboard import add_dashboard
from infra.monitoring.metrics import Watched, add_error_log_metric
from infra.monitoring.queries import add_saved_queries
from infra.monitoring.topic import add_alarm_topic
from infra.settings import EnvironmentSettings


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
        self.topic = add_alarm_topic(self, settings)
        watched = Watched(
            function=function,
            stage=api.rest_api.deployment_stage,
            table=table,
            error_log_lines=add_error_log_metric(self, settings, log_group),
        )
        self.alarms = add_alarms(self, settings, watched, topic=self.topic)
        self.dashboard = add_dashboard(self, settings, watched, alarms=self.alarms)
        self.queries = add_saved_queries(
            self, settings, function_logs=log_group, access_logs=api.access_log_group
        )
