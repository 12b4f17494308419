"""Every DynamoDB call of the function (IAM: GetItem, PutItem, UpdateItem, DeleteItem, Scan).

The table holds two kinds of items, both keyed by ``UserId``:

- users: ``UserId`` is a server-generated UUID;
- idempotency records: ``UserId = "idempotency#<sha256 of the Idempotency-Key>"``, with a TTL
  attribute ``expiresAt``. They are written in the same ``TransactWriteItems`` as the user they
  belong to (IAM authorises each Put of a transaction as ``dynamodb:PutItem``), are filtered out of
  every scan and can never be addressed through ``/users/{userId}`` (not a UUID).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.exceptions import ClientError

from users_api.errors import DependencyUnavailable, PreconditionFailed, UserNotFound
from users_api.observability import tracer
from users_api.validation import IfMatch

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

IDEMPOTENCY_PREFIX = "idempotency#"
HEALTH_PROBE_KEY = "health#probe"  # never written: a GetItem of it proves the table answers
MAX_SCAN_ROUNDS = 10


class IdempotencyKeyTaken(Exception):
    """The idempotency record already exists (the user was created by an earlier request)."""


@dataclass(frozen=True)
class ScanPage:
    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _version_condition(if_match: IfMatch | None) -> tuple[str, dict[str, Any]]:
    """The ``ConditionExpression`` for 'the user exists [and its version matches If-Match]'."""
    if if_match is None or if_match.any_version:
        return "attribute_exists(UserId)", {}
    versions = sorted(if_match.versions) or [-1]  # no usable ETag: can never match
    placeholders = {f":expected{i}": version for i, version in enumerate(versions)}
    return f"attribute_exists(UserId) AND #version IN ({', '.join(placeholders)})", placeholders


class UserRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def ping(self) -> None:
        self._table.get_item(Key={"UserId": HEALTH_PROBE_KEY}, ProjectionExpression="UserId")

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def get(self, user_id: str) -> dict[str, Any] | None:
        return self._get_item(user_id)

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def create(self, user: dict[str, Any]) -> None:
        self._table.put_item(Item=user, ConditionExpression="attribute_not_exists(UserId)")

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def create_with_idempotency_record(
        self, user: dict[str, Any], record: dict[str, Any], now_epoch: int
    ) -> None:
        """Write the user and its idempotency record atomically; nothing is half-written."""
        client = self._table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": user,
                            "ConditionExpression": "attribute_not_exists(UserId)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": record,
                            # An expired record that TTL has not swept yet may be replaced.
                            "ConditionExpression": (
                                "attribute_not_exists(UserId) OR expiresAt < :now"
                            ),
                            "ExpressionAttributeValues": {":now": now_epoch},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [str(r.get("Code", "")) for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise IdempotencyKeyTaken() from exc
            # Conflict with a concurrent transaction or throttling: the client may retry.
            raise DependencyUnavailable() from exc

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def get_idempotency_record(self, record_key: str) -> dict[str, Any] | None:
        return self._get_item(record_key)

    def _get_item(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"UserId": key}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def scan_users(self, limit: int, start_key: dict[str, Any] | None) -> ScanPage:
        """Up to ``limit`` users from ``start_key`` on, and where the next page starts (if any).

        DynamoDB applies ``Limit`` before the filter that hides idempotency records, so a round may
        return fewer users than asked; a few more rounds fill the page. One user beyond the page is
        read so that a page that ends the table carries no next key (DynamoDB returns a
        LastEvaluatedKey whenever Limit is reached, even with nothing left).
        """
        wanted = limit + 1
        items: list[dict[str, Any]] = []
        key = start_key
        for _ in range(MAX_SCAN_ROUNDS):
            kwargs: dict[str, Any] = {
                "Limit": wanted - len(items),
                "FilterExpression": "NOT begins_with(UserId, :reserved)",
                "ExpressionAttributeValues": {":reserved": IDEMPOTENCY_PREFIX},
                "ConsistentRead": True,
            }
            if key is not None:
                kwargs["ExclusiveStartKey"] = key
            response = self._table.scan(**kwargs)
            items.extend(dict(item) for item in response.get("Items", []))
            key = response.get("LastEvaluatedKey")
            if key is None or len(items) >= wanted:
                break
        if len(items) > limit:
            page = items[:limit]
            # The page's last user is where the next page starts: a scan resumes after it.
            return ScanPage(items=page, last_key={"UserId": page[-1]["UserId"]})
        return ScanPage(items=items, last_key=dict(key) if key else None)

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def update(
        self,
        user_id: str,
        values: dict[str, str],
        removed: frozenset[str],
        if_match: IfMatch | None,
        updated_at: str,
    ) -> dict[str, Any]:
        """One conditional UpdateItem: set/remove fields, bump the version, set updatedAt."""
        names = {"#version": "version", "#updatedAt": "updatedAt"}
        attribute_values: dict[str, Any] = {":one": 1, ":updatedAt": updated_at}
        assignments = []
        for index, (field, value) in enumerate(sorted(values.items())):
            names[f"#f{index}"] = field
            attribute_values[f":f{index}"] = value
            assignments.append(f"#f{index} = :f{index}")
        assignments += ["#updatedAt = :updatedAt", "#version = #version + :one"]
        expression = "SET " + ", ".join(assignments)
        if removed:
            removals = []
            for index, field in enumerate(sorted(removed)):
                names[f"#r{index}"] = field
                removals.append(f"#r{index}")
            expression += " REMOVE " + ", ".join(removals)
        condition, condition_values = _version_condition(if_match)
        attribute_values.update(condition_values)
        try:
            response = self._table.update_item(
                Key={"UserId": user_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            self._raise_condition_failure(exc)
        return dict(response["Attributes"])

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def delete(self, user_id: str, if_match: IfMatch | None) -> None:
        condition, condition_values = _version_condition(if_match)
        kwargs: dict[str, Any] = {
            "Key": {"UserId": user_id},
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if condition_values:
            kwargs["ExpressionAttributeNames"] = {"#version": "version"}
            kwargs["ExpressionAttributeValues"] = condition_values
        try:
            self._table.delete_item(**kwargs)
        except ClientError as exc:
            self._raise_condition_failure(exc)

    @staticmethod
    def _raise_condition_failure(exc: ClientError) -> NoReturn:
        if _error_code(exc) != "ConditionalCheckFailedException":
            raise exc
        # The old item comes back only if it existed: then the ETag did not match.
        if exc.response.get("Item"):
            raise PreconditionFailed() from exc
        raise UserNotFound() from exc
