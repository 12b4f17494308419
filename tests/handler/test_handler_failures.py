"""Failures that are not dependency faults: anything unexpected is an opaque 500; the health
check reports a failing dependency as 503 degraded. (Dependency faults: test_handler_faults.py.)"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.handler.conftest import (
    REGION,
    TABLE_NAME,
    AwsRecorders,
    FakeMonotonic,
    Invoke,
    api_event,
    function_client,
    make_invoker,
)
from users_api.api import UsersApi
from users_api.container import Container
from users_api.deadline import Deadline
from users_api.models import IdempotencyRecord, ScanPage, VersionCondition
from users_api.repository import UserRepository
from users_api.retries import Attempts
from users_api.settings import Settings

USER_ID = "3f0c0000-0000-4000-8000-000000000000"


class FailingRepository:
    """A repository whose every call raises the given exception; records what was called."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[str] = []

    def _fail(self, name: str) -> Any:
        self.calls.append(name)
        raise self.error

    def ping(self) -> None:
        self._fail("ping")

    def get(self, user_id: str) -> dict[str, Any] | None:
        return self._fail("get")  # type: ignore[no-any-return]

    def create(self, user: dict[str, Any]) -> None:
        self._fail("create")

    def create_with_idempotency_record(
        self, user: dict[str, Any], record: IdempotencyRecord, now_epoch: int
    ) -> None:
        self._fail("create_with_idempotency_record")

    def get_idempotency_record(self, key_hash: str) -> IdempotencyRecord | None:
        return self._fail("get_idempotency_record")  # type: ignore[no-any-return]

    def scan_users(self, limit: int, start_key: dict[str, Any] | None) -> ScanPage:
        return self._fail("scan_users")  # type: ignore[no-any-return]

    def update(
        self,
        user_id: str,
        values: dict[str, str],
        removed: frozenset[str],
        condition: VersionCondition,
        updated_at: str,
    ) -> dict[str, Any]:
        return self._fail("update")  # type: ignore[no-any-return]

    def delete(self, user_id: str, condition: VersionCondition) -> None:
        self._fail("delete")


def client_error(code: str, message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


@pytest.fixture
def invoke_with(
    aws: None,
    settings: Settings,
    clock: FakeMonotonic,
    recorders: AwsRecorders,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Any], Invoke]:
    """Real config from moto's SSM, and the given repository instead of DynamoDB."""

    def build(repository: Any) -> Invoke:
        container = Container(
            settings,
            ssm_client_factory=lambda: function_client("ssm"),
            repository_factory=lambda _users, _records, _attempts: repository,
            config_clock=clock,
        )
        return make_invoker(UsersApi(settings, container), monkeypatch)

    return build


def test_unexpected_error_is_an_opaque_500_logged_with_the_request_id(
    invoke_with: Callable[[Any], Invoke], captured_logs: io.StringIO
) -> None:
    # Given DynamoDB answers something nobody planned for, naming the table in its text
    error = client_error("ValidationException", f"Table {TABLE_NAME} arn:aws:dynamodb:x failed")
    invoke = invoke_with(FailingRepository(error))

    # When
    response = invoke(api_event("GET", f"/users/{USER_ID}", request_id="gw-500"))

    # Then the client learns nothing internal
    assert response.status == 500
    assert response.body["code"] == "INTERNAL_ERROR"
    assert response.body["requestId"] == "gw-500"
    for leak in (TABLE_NAME, "arn:aws", "ValidationException", "ClientError", "Traceback"):
        assert leak not in response.raw["body"]
    # ... and the logs have the stack trace and the request id
    logs = captured_logs.getvalue()
    assert "Unhandled error" in logs
    assert "gw-500" in logs
    assert "ValidationException" in logs


def test_a_bug_in_code_is_an_opaque_500(invoke_with: Callable[[Any], Invoke]) -> None:
    invoke = invoke_with(FailingRepository(KeyError("secret-internal-detail")))

    response = invoke(api_event("GET", "/users"))

    assert response.status == 500
    assert "secret-internal-detail" not in response.raw["body"]


def test_health_is_503_degraded_when_dynamodb_fails(invoke_with: Callable[[Any], Invoke]) -> None:
    repository = FailingRepository(client_error("ResourceNotFoundException"))
    invoke = invoke_with(repository)

    response = invoke(api_event("GET", "/"))

    assert response.status == 503
    assert response.data == {
        "status": "degraded",
        "checks": {"dynamodb": "error", "config": "ok"},
        "version": "1.2.3",
    }
    assert (response.body["success"], response.body["code"]) == (False, "SERVICE_UNAVAILABLE")
    assert response.header("Retry-After") == "5"
    assert repository.calls == ["ping"]


def test_health_probes_dynamodb_with_getitem_only_never_describe_table(
    invoke: Invoke, recorders: AwsRecorders
) -> None:
    """Regression: the draft called DescribeTable (``table.table_status``) without permission."""
    response = invoke(api_event("GET", "/"))

    assert response.status == 200
    assert response.data == {
        "status": "healthy",
        "checks": {"dynamodb": "ok", "config": "ok"},
        "version": "1.2.3",
    }
    assert recorders.dynamodb.operations == ["GetItem"]
    assert recorders.ssm.operations == ["GetParameters"]
    assert TABLE_NAME not in response.raw["body"]


# --- repository with botocore's Stubber (no moto, no network) -------------------------------


def stubbed_table() -> tuple[Any, Stubber]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME)
    return table, Stubber(table.meta.client)


def test_repository_update_is_one_conditional_update_item() -> None:
    # Given (the Stubber sees the parameters before boto3 serialises them)
    table, stubber = stubbed_table()
    stubber.add_response(
        "update_item",
        {"Attributes": {"UserId": {"S": USER_ID}, "version": {"N": "4"}}},
        expected_params={
            "TableName": TABLE_NAME,
            "Key": {"UserId": USER_ID},
            "UpdateExpression": (
                "SET #f0 = :f0, #updatedAt = :updatedAt, #version = #version + :one, "
                "#token = :token REMOVE #r0"
            ),
            # The write token makes a retry of an applied update fail instead of applying twice.
            "ConditionExpression": (
                "(attribute_exists(UserId) AND #version IN (:expected0)) "
                "AND (attribute_not_exists(#token) OR #token <> :token)"
            ),
            "ExpressionAttributeNames": {
                "#version": "version",
                "#updatedAt": "updatedAt",
                "#token": "writeToken",
                "#f0": "name",
                "#r0": "phone",
            },
            "ExpressionAttributeValues": {
                ":one": 1,
                ":updatedAt": "2026-01-01T00:00:00.000Z",
                ":token": "token-1",
                ":f0": "N",
                ":expected0": 3,
            },
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )

    # When
    with stubber:
        item = UserRepository(
            table,
            table,
            Attempts(Deadline.after(60), attempt_seconds=3),
            new_token=lambda: "token-1",
        ).update(
            USER_ID,
            {"name": "N"},
            frozenset({"phone"}),
            VersionCondition(versions=frozenset({3})),
            "2026-01-01T00:00:00.000Z",
        )

    # Then
    assert item["version"] == 4
    stubber.assert_no_pending_responses()
