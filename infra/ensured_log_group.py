"""A log group that may already exist: created when missing, adopted when present.

CloudFormation's own AWS::Logs::LogGroup fails with "already exists" on a group someone else
created, and cannot import one whose name holds a reference. API Gateway creates its execution
log group by itself, so the stack ensures that group through a custom resource instead: a
small Python function (infra/log_group_provider/handler.py) that may touch this one group only.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from aws_cdk import Aws, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.names import ENSURED_LOG_GROUP_TYPE
from infra.settings import EnvironmentSettings

PROVIDER_DIR = Path(__file__).resolve().parent / "log_group_provider"
PROVIDER_RUNTIME = lambda_.Runtime.PYTHON_3_13
# Not the users function's handler name: the e2e harness tells the two functions apart by it.
PROVIDER_HANDLER = "handler.on_event"
# Each call makes at most four bounded SDK calls and one PUT; CloudFormation gives up on an
# answer after SERVICE_TIMEOUT instead of its default hour.
PROVIDER_TIMEOUT = Duration.minutes(1)
SERVICE_TIMEOUT = Duration.minutes(5)
GROUP_ACTIONS = [
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:TagLogGroup",
    "logs:TagResource",
]
OWN_LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
CHECKOV_NO_RESERVED_CONCURRENCY = {
    "id": "CKV_AWS_115",
    "comment": (
        "CloudFormation calls it a few times per deploy, one at a time; reserved concurrency "
        "would come out of the account's unreserved pool, which Lambda keeps at 10 or more, and "
        "small accounts already spend it on the users function's reservation."
    ),
}


class EnsuredLogGroup(Construct):
    """The log group `log_group_name` with the environment's retention and tags.

    Deleting the stack deletes the group only where the environment's removal policy is
    DESTROY (dev); elsewhere (prod) the group and its events stay.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group_name: str,
        settings: EnvironmentSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group_name = log_group_name
        self.provider_log_group = logs.LogGroup(
            self,
            "ProviderLogs",
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        self.role = self._role()
        self.provider = self._provider(settings)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.function_arn,
            resource_type=ENSURED_LOG_GROUP_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={
                "LogGroupName": log_group_name,
                "RetentionInDays": self.retention_in_days,
                "Tags": settings.tags,
                "RemovalPolicy": (
                    "destroy" if settings.removal_policy == RemovalPolicy.DESTROY else "retain"
                ),
            },
            # CloudFormation always asks the provider, which honours RemovalPolicy itself.
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The role's policy must exist before CloudFormation calls the provider.
        self.resource.node.add_dependency(self.role)

    @property
    def retention_in_days(self) -> int:
        """The environment's retention in days, as CDK writes it for its own log groups."""
        group = cast(logs.CfnLogGroup, self.provider_log_group.node.default_child)
        return int(cast(int, group.retention_in_days))

    @property
    def group_arns(self) -> list[str]:
        """The group's ARN, and the form ending in `:*` that some Logs actions are checked on.

        Pseudo parameters, not the stack's account and region: the ARN reads the same whether
        or not the synth knows the environment, and so does cdk-nag's finding on it.
        """
        arn = (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
            f"log-group:{self.log_group_name}"
        )
        return [arn, f"{arn}:*"]

    def _role(self) -> iam.Role:
        role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Ensures one log group: creates, adopts, sets retention, tags, deletes",
        )
        role.add_to_policy(iam.PolicyStatement(actions=GROUP_ACTIONS, resources=self.group_arns))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=OWN_LOG_ACTIONS, resources=[self.provider_log_group.log_group_arn]
            )
        )
        return role

    def _provider(self, settings: EnvironmentSettings) -> lambda_.Function:
        function = lambda_.Function(
            self,
            "Provider",
            description=f"Users API ({settings.name}): ensures a log group that may exist",
            runtime=PROVIDER_RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=PROVIDER_HANDLER,
            # Its own folder only: nothing of the users function, nothing of the CDK app.
            code=lambda_.Code.from_asset(
                str(PROVIDER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]
            ),
            role=self.role,
            timeout=PROVIDER_TIMEOUT,
            memory_size=128,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.provider_log_group,
        )
        # checkov, on this function alone (the users function keeps its reserved concurrency).
        cast(lambda_.CfnFunction, function.node.default_child).add_metadata(
            "checkov", {"skip": [CHECKOV_NO_RESERVED_CONCURRENCY]}
        )
        return function
