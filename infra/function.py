"""The users function: its log group, its least-privilege role and the function itself."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, Fn, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import bundled_code
from infra.config import ServiceConfig
from infra.names import HANDLER, METRICS_NAMESPACE, RESERVED_CONCURRENCY, SERVICE_NAME
from infra.settings import EnvironmentSettings

CODE_DIR = Path(__file__).resolve().parent.parent / "lambda"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
# API Gateway gives up on an integration after 29 s; the function answers well before.
TIMEOUT = Duration.seconds(10)
MEMORY_MB = 256
APP_VERSION = "1.0.0"

# Exactly what repository.py calls; a TransactWriteItems is authorised per item as the Put,
# Update, Delete or ConditionCheck it holds.
USERS_TABLE_ACTIONS = [
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
]
IDEMPOTENCY_TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem"]
# DynamoDB calls KMS on the function's behalf for the customer-managed key.
KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
SSM_ACTIONS = ["ssm:GetParameters"]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
# What the CDK grants for active tracing.
XRAY_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
# Granted, yet never called by the function's code: a service uses them with the function's
# role on its behalf. The e2e audit accepts these as used, for this reason, and fails on any
# other grant that no call used (docs/least-privilege.md).
USED_ON_THE_FUNCTIONS_BEHALF = {
    **dict.fromkeys(
        KMS_ACTIONS,
        "DynamoDB encrypts and decrypts the tables' items with the key (kms:ViaService)",
    ),
    **dict.fromkeys(
        LOG_ACTIONS, "Lambda writes the function's output to its log group with its role"
    ),
    **dict.fromkeys(
        XRAY_ACTIONS, "Lambda's X-Ray daemon sends the function's trace segments with its role"
    ),
}


class UsersFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        table: dynamodb.ITable,
        idempotency_table: dynamodb.ITable,
        key: kms.IKey,
        config: ServiceConfig,
    ):
        super().__init__(scope, construct_id)
        self.function_name = self._unique_function_name(settings)
        self.log_group = self._log_group(settings)
        self.role = self._role()
        self.function = self._function(settings, config)
        self._allow_tables(table, idempotency_table, key)
        self._allow_config(config)
        self._allow_logs()

    def _unique_function_name(self, settings: EnvironmentSettings) -> str:
        # The log group must be called /aws/lambda/<function name> (LocalStack only honours
        # that name), so the name has to be known before the function exists. A suffix from
        # the stack's id keeps it unique per stack, so a retried deploy never collides with a
        # log group retained from a rolled-back one.
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        suffix = Fn.select(0, Fn.split("-", stack_uuid))
        return Fn.join("-", [SERVICE_NAME, settings.name, suffix])

    def _log_group(self, settings: EnvironmentSettings) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=Fn.join("", ["/aws/lambda/", self.function_name]),
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )

    def _role(self) -> iam.Role:
        return iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Users API function: only the calls its code makes",
        )

    def _function(self, settings: EnvironmentSettings, config: ServiceConfig) -> lambda_.Function:
        return lambda_.Function(
            self,
            "Handler",
            function_name=self.function_name,
            description=f"Users API ({settings.name})",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=bundled_code(CODE_DIR, RUNTIME, platform="manylinux2014_x86_64"),
            role=self.role,
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            tracing=lambda_.Tracing.ACTIVE
            if settings.tracing_enabled
            else lambda_.Tracing.DISABLED,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
            environment=self._environment(settings, config),
        )

    @staticmethod
    def _environment(settings: EnvironmentSettings, config: ServiceConfig) -> dict[str, str]:
        # Only non-secret values; everything that may change at run time lives in SSM.
        return {
            "ENVIRONMENT": settings.name,
            "CONFIG_PARAMETER_PATH": config.path,
            "CONFIG_TTL_SECONDS": str(settings.config_ttl_seconds),
            "ALLOWED_ORIGINS": ",".join(settings.allowed_origins),
            "APP_VERSION": APP_VERSION,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_TRACE_DISABLED": str(not settings.tracing_enabled).lower(),
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        }

    def _allow_tables(
        self, table: dynamodb.ITable, idempotency_table: dynamodb.ITable, key: kms.IKey
    ) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(actions=USERS_TABLE_ACTIONS, resources=[table.table_arn])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=IDEMPOTENCY_TABLE_ACTIONS, resources=[idempotency_table.table_arn]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=KMS_ACTIONS,
                resources=[key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com"
                    }
                },
            )
        )

    def _allow_config(self, config: ServiceConfig) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(actions=SSM_ACTIONS, resources=config.parameter_arns)
        )

    def _allow_logs(self) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(actions=LOG_ACTIONS, resources=[self.log_group.log_group_arn])
        )
