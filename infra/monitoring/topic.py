"""The alarm topic: an SNS topic encrypted with its own rotating key, published to by this
stack's alarms only, with an optional e-mail subscription."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.monitoring.alarms import alarm_name
from infra.settings import EnvironmentSettings

CLOUDWATCH_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


def add_alarm_topic(scope: Construct, settings: EnvironmentSettings) -> sns.Topic:
    key = _topic_key(scope, settings)
    topic = sns.Topic(
        scope,
        "AlarmTopic",
        display_name=f"Users API {settings.name} alarms",
        master_key=key,
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
            conditions=_from_this_stacks_alarms(settings),
        )
    )
    if settings.alarm_email:
        topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
    return topic


def _topic_key(scope: Construct, settings: EnvironmentSettings) -> kms.Key:
    key = kms.Key(
        scope,
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
            conditions=_from_this_stacks_alarms(settings),
        )
    )
    return key


def _from_this_stacks_alarms(settings: EnvironmentSettings) -> dict[str, dict[str, str]]:
    """Conditions that keep CloudWatch from acting for any other account's or stack's alarms."""
    # Every alarm is named after the stack; pseudo parameters hold wherever it is deployed.
    alarms = (
        f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
        f"{alarm_name(settings, '*')}"
    )
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": alarms},
    }
