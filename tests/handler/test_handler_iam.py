"""The handler tests run under the function's role as the synthesized template grants it:
these prove that a call the role does not allow is refused and named."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from e2e.least_privilege.authorization import Authorization, allows
from tests.handler.conftest import (
    IDEMPOTENCY_TABLE_NAME,
    REGION,
    TABLE_NAME,
    Invoke,
    api_event,
    create_user,
    function_client,
)
from tests.handler.function_role import FunctionRole, table_arn

USERS_ARN = table_arn(REGION, TABLE_NAME)
RECORDS_ARN = table_arn(REGION, IDEMPOTENCY_TABLE_NAME)


def test_the_role_is_the_templates_with_the_tests_table_names(function_role: FunctionRole) -> None:
    # Given the role's documents, read from the synthesized dev template
    documents = list(function_role.documents.values())

    # Then the users table's grants name the tests' users table, and only it
    assert allows(documents, Authorization("dynamodb:Scan", USERS_ARN))
    assert not allows(documents, Authorization("dynamodb:Scan", RECORDS_ARN))
    assert not allows(documents, Authorization("dynamodb:DeleteTable", USERS_ARN))


def test_a_code_path_whose_grant_is_missing_fails_naming_the_call(
    aws: None, invoke: Invoke, function_role: FunctionRole
) -> None:
    # Given a user, and a role without dynamodb:DeleteItem on the users table
    user = create_user(invoke)
    function_role.revoke("dynamodb:DeleteItem", USERS_ARN)

    # When the user is deleted
    response = invoke(api_event("DELETE", f"/users/{user['UserId']}"))

    # Then AWS's answer reaches the function, and the refused call is named
    assert response.status >= 500
    denied = function_role.take_denials()
    assert denied == [
        "the call dynamodb.TransactWriteItems [TransactItems[0].Delete] needs "
        f"dynamodb:DeleteItem on {USERS_ARN}"
    ]


def test_each_item_of_a_transaction_is_authorised_on_its_own_table(
    aws: None, function_role: FunctionRole
) -> None:
    # Given the function's DynamoDB client
    client = function_client("dynamodb")

    # When a transaction puts on the records' table (granted) and deletes there (not granted)
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": IDEMPOTENCY_TABLE_NAME,
                        "Item": {"IdempotencyKey": {"S": "a"}},
                    }
                },
                {
                    "Delete": {
                        "TableName": IDEMPOTENCY_TABLE_NAME,
                        "Key": {"IdempotencyKey": {"S": "b"}},
                    }
                },
            ]
        )

    # Then it is refused as AWS would, for the Delete alone
    denied = function_role.take_denials()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert denied == [
        "the call dynamodb.TransactWriteItems [TransactItems[1].Delete] needs "
        f"dynamodb:DeleteItem on {RECORDS_ARN}"
    ]


def test_a_call_outside_the_role_is_refused(aws: None, function_role: FunctionRole) -> None:
    # When the function's SSM client asks for a parameter outside its path
    with pytest.raises(ClientError) as refused:
        function_client("ssm").get_parameters(Names=["/prod/users-api/tableName"])

    # Then
    denied = function_role.take_denials()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert denied == [
        "the call ssm.GetParameters needs ssm:GetParameters on "
        f"arn:aws:ssm:{REGION}:123456789012:parameter/prod/users-api/tableName"
    ]
