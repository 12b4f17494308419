"""The alarm topic: encrypted with a rotating key, published to only by this stack's alarms,
and subscribed to by the configured e-mail address."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.settings import ConfigurationError, ContextReader, alarm_email
from tests.infra.conftest import only_resource, synth, topic_ref


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
    # Given a stack synthesized without an alarm e-mail, then nobody is subscribed
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
    # Given an alarm e-mail in the context and another in the environment
    context = {"alarmEmail": "context@example.com"}
    environ = {"ALARM_EMAIL": "environ@example.com"}
    # Then the context wins, the environment comes next, and a blank value is none
    assert alarm_email(reader(context), environ) == "context@example.com"
    assert alarm_email(reader({}), environ) == "environ@example.com"
    assert alarm_email(reader({}), {}) is None
    assert alarm_email(reader({"alarmEmail": ""}), {"ALARM_EMAIL": " "}) is None


def test_an_alarm_email_that_is_not_an_address_is_refused() -> None:
    # Given an alarm e-mail without an @, then the synth is refused with a clear error
    with pytest.raises(ConfigurationError, match="not an e-mail address"):
        alarm_email(reader({"alarmEmail": "oncall"}), {})
