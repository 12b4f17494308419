"""The tables: key schema, on-demand, KMS encryption, TTL, recovery and removal per environment."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.stack import UsersApiStack
from tests.infra.conftest import Synthesized
from users_api.definitions import EXPIRES_AT
from users_api.service import PUBLIC_FIELDS


def tables(stack: UsersApiStack, template: Template) -> dict[str, dict[str, Any]]:
    """The two tables' resources, by role."""
    resources = template.find_resources("AWS::DynamoDB::Table")
    assert len(resources) == 2
    ids = {
        "users": stack.resolve(stack.data.table.table_name)["Ref"],
        "idempotency": stack.resolve(stack.data.idempotency_table.table_name)["Ref"],
    }
    return {role: dict(resources[logical_id]) for role, logical_id in ids.items()}


def test_users_table_is_keyed_by_user_id(stack: UsersApiStack, template: Template) -> None:
    users = tables(stack, template)["users"]["Properties"]
    assert users["KeySchema"] == [{"AttributeName": "UserId", "KeyType": "HASH"}]
    assert users["AttributeDefinitions"] == [{"AttributeName": "UserId", "AttributeType": "S"}]
    assert users["BillingMode"] == "PAY_PER_REQUEST"


def test_users_table_expires_only_what_an_earlier_release_stored_with_an_expiry(
    stack: UsersApiStack, template: Template
) -> None:
    # Users carry no expiresAt, so they never expire; the idempotency records release e82e621
    # kept in this table do, and TTL on the same attribute sweeps them.
    users = tables(stack, template)["users"]["Properties"]
    assert users["TimeToLiveSpecification"] == {"AttributeName": EXPIRES_AT, "Enabled": True}
    assert EXPIRES_AT not in PUBLIC_FIELDS


def test_idempotency_records_have_a_table_of_their_own_that_expires_them(
    stack: UsersApiStack, template: Template
) -> None:
    records = tables(stack, template)["idempotency"]["Properties"]
    assert records["KeySchema"] == [{"AttributeName": "IdempotencyKey", "KeyType": "HASH"}]
    assert records["BillingMode"] == "PAY_PER_REQUEST"
    assert records["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


@pytest.mark.parametrize("role", ["users", "idempotency"])
def test_each_table_is_encrypted_with_the_stacks_rotating_key_and_recoverable(
    stack: UsersApiStack, template: Template, role: str
) -> None:
    # Given the stack's own customer-managed key
    key_arn = stack.resolve(stack.data.key.key_arn)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    # Then the table's server-side encryption names exactly that key, and PITR is on
    table = tables(stack, template)[role]["Properties"]
    assert table["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": key_arn,
    }
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # And no fixed physical name: a retried deploy can never collide with a failed one's leftovers
    assert "TableName" not in table


@pytest.mark.parametrize("role", ["users", "idempotency"])
def test_prod_data_is_retained_and_protected(synthesized: Synthesized, role: str) -> None:
    stack, template = synthesized["prod"]
    table = tables(stack, template)[role]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain"})


@pytest.mark.parametrize("role", ["users", "idempotency"])
def test_dev_data_is_destroyed_with_the_stack(synthesized: Synthesized, role: str) -> None:
    stack, template = synthesized["dev"]
    table = tables(stack, template)[role]
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})
    template.resource_count_is("AWS::KMS::Alias", 0)
