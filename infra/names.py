"""Names shared by the stack, its tests and the e2e harness, defined once.

What the function must agree on too comes from ``users_api.definitions``.
"""

from typing import Final

from users_api.definitions import METRICS_NAMESPACE as METRICS_NAMESPACE
from users_api.definitions import SERVICE_NAME as SERVICE_NAME


def stack_name(environment: str) -> str:
    return f"UsersApi-{environment}"


# The function may never run more than this many copies at once (it protects the table
# and downstream quotas); tests and the e2e parity step read it from the template.
RESERVED_CONCURRENCY: Final = 5

HANDLER: Final = "handler.lambda_handler"


class OutputKeys:
    """Stable CloudFormation output keys; clients and the e2e suite read these."""

    API_URL: Final = "ApiUrl"
    REST_API_ID: Final = "RestApiId"
    STAGE_NAME: Final = "StageName"
    TABLE_NAME: Final = "TableName"
    IDEMPOTENCY_TABLE_NAME: Final = "IdempotencyTableName"
    FUNCTION_NAME: Final = "FunctionName"
    KEY_ARN: Final = "TableKeyArn"
    PARAMETER_PATH: Final = "ParameterPath"
    # Subscribe a channel (chat, pager) to the alarms without looking the topic up.
    ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
    # IAM authorization only: the managed policies a consumer attaches to its role.
    READ_ONLY_POLICY_ARN: Final = "ReadOnlyPolicyArn"
    READ_WRITE_POLICY_ARN: Final = "ReadWritePolicyArn"


# A log group that a custom resource creates, or adopts when it already exists
# (infra/ensured_log_group.py): API Gateway's execution log group.
ENSURED_LOG_GROUP_TYPE: Final = "Custom::EnsuredLogGroup"

# What a deploy must never replace or delete by accident (scripts/guard_stateful.py, and the
# frozen ids in tests/infra/stateful_resources.json), with the properties whose change makes
# CloudFormation replace each (their reference pages' "Update requires: Replacement").
REPLACING_PROPERTIES: Final[dict[str, tuple[str, ...]]] = {
    "AWS::DynamoDB::Table": (
        "TableName",
        "KeySchema",
        "AttributeDefinitions",
        "LocalSecondaryIndexes",
    ),
    "AWS::KMS::Key": ("KeySpec", "KeyUsage", "MultiRegion", "Origin"),
    "AWS::Logs::LogGroup": ("LogGroupName", "LogGroupClass"),
    "AWS::SNS::Topic": ("TopicName", "FifoTopic"),
    # Its provider answers a new physical id for a new name, and CloudFormation then deletes
    # the old one.
    ENSURED_LOG_GROUP_TYPE: ("LogGroupName",),
}
STATEFUL_TYPES: Final = tuple(REPLACING_PROPERTIES)
# `-c allowReplace=<logical id>,...`: the stateful resources one deploy may replace or delete.
ALLOW_REPLACE_CONTEXT: Final = "allowReplace"
# Where the synthesized assembly records that allowance for the guard (stack metadata in
# manifest.json: it never reaches the template).
ALLOW_REPLACE_METADATA: Final = "users-api:allowReplace"
