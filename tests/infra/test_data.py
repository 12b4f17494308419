"""The table: key schema, on-demand, KMS encryption, recovery and removal per environment."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra.stack import UsersApiStack
from tests.infra.conftest import Synthesized, only_resource


def test_table_is_keyed_by_user_id_on_demand(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "UserId", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "UserId", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
        },
    )


def test_table_is_encrypted_with_the_stacks_rotating_key(
    stack: UsersApiStack, template: Template
) -> None:
    # Given the stack's own customer-managed key
    key_arn = stack.resolve(stack.data.key.key_arn)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    # Then the table's server-side encryption names exactly that key
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}},
    )


def test_point_in_time_recovery_uses_the_specification(template: Template) -> None:
    table = only_resource(template, "AWS::DynamoDB::Table")["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_prod_data_is_retained_and_protected(synthesized: Synthesized) -> None:
    _, template = synthesized["prod"]
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
        },
    )
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain"})


def test_dev_data_is_destroyed_with_the_stack(synthesized: Synthesized) -> None:
    _, template = synthesized["dev"]
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Delete",
            "Properties": Match.object_like({"DeletionProtectionEnabled": False}),
        },
    )
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})


def test_no_fixed_physical_names_on_table_or_key(template: Template) -> None:
    # A retried deploy can then never collide with what a failed one left behind.
    assert "TableName" not in only_resource(template, "AWS::DynamoDB::Table")["Properties"]
    template.resource_count_is("AWS::KMS::Alias", 0)
