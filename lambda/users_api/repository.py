"""Every DynamoDB call of the function, on two tables:

- users (IAM: GetItem, PutItem, UpdateItem, DeleteItem, Scan, ConditionCheckItem): users, keyed
  by ``UserId`` (and an earlier release's idempotency records, see below);
- idempotency records (IAM: GetItem, PutItem): keyed by ``IdempotencyKey`` (the sha256 of the
  header), swept by TTL on ``expiresAt``, and written in the same ``TransactWriteItems`` as the
  user they name (IAM authorises each Put of a transaction as ``PutItem``).

Every write is safe to retry, so a retried attempt can never contradict an earlier one that
committed. Each write carries a mark that only an earlier attempt of the same call can have left:

- create: the user's id is fresh, so a failed ``attribute_not_exists`` on it after an unconfirmed
  attempt means that attempt stored it;
- update: the item records the call's ``writeToken``; the condition refuses a second application,
  and ``ReturnValuesOnConditionCheckFailure`` hands back the stored item atomically, so a retry
  that finds its own token returns the committed result (``UpdateItem`` keeps ``ALL_NEW``, which
  ``TransactWriteItems`` cannot return);
- delete, and create with an idempotency record: ``TransactWriteItems`` with a
  ``ClientRequestToken``, which DynamoDB itself makes idempotent for 10 minutes, because a delete
  leaves nothing behind to find.

A refused condition after an unconfirmed attempt that carries no such mark proves nothing about
this call: it answers 504 (outcome unknown), never 404 or 412.

Data an earlier release wrote: until release e82e621 the idempotency records lived in the users
table, keyed ``idempotency#<sha256 of the key>`` (same attributes, TTL on the same ``expiresAt``).
They are read where they are: a keyed create's transaction also checks that no live legacy record
holds its key (IAM: ConditionCheckItem on the users table), a replay falls back to the legacy
record, and a scan never returns one. TTL sweeps the last of them 25 hours after the upgrade;
this reading goes when e82e621 leaves ``upgrade/releases.txt``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from users_api.definitions import EXPIRES_AT, IDEMPOTENCY_KEY, USER_KEY
from users_api.errors import DependencyTimeout, PreconditionFailed, UserNotFound
from users_api.faults import cancellation_reasons, error_code
from users_api.models import IdempotencyRecord, ScanPage, VersionCondition
from users_api.observability import tracer
from users_api.retries import Attempts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

WRITE_TOKEN = "writeToken"  # noqa: S105 - an attribute name, not a secret
HEALTH_PROBE_KEY = "health#probe"  # never written: a GetItem of it proves the table answers
CONDITION_FAILED = "ConditionalCheckFailedException"
LEGACY_IDEMPOTENCY_PREFIX = "idempotency#"  # an earlier release's records in the users table
TRANSACTION_CANCELLED = "TransactionCanceledException"

_deserializer = TypeDeserializer()


class IdempotencyKeyTaken(Exception):
    """The idempotency record already exists (the user was created by an earlier request)."""


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item of an error response (DynamoDB JSON: the resource does not convert those)."""
    if not item:
        return None
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _is_user(item: dict[str, Any]) -> bool:
    return not str(item[USER_KEY]).startswith(LEGACY_IDEMPOTENCY_PREFIX)


def _version_condition(condition: VersionCondition) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``ConditionExpression``, names and values for 'exists [and the version matches]'."""
    if condition.versions is None:
        return "attribute_exists(UserId)", {}, {}
    versions = sorted(condition.versions) or [-1]  # no usable ETag: can never match
    values = {f":expected{i}": version for i, version in enumerate(versions)}
    expression = f"attribute_exists(UserId) AND #version IN ({', '.join(values)})"
    return expression, {"#version": "version"}, values


class UserRepository:
    def __init__(
        self,
        users: Table,
        idempotency: Table,
        attempts: Attempts,
        new_token: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._users = users
        self._idempotency = idempotency
        self._attempts = attempts
        self._new_token = new_token

    # --- reads -------------------------------------------------------------------------------

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def ping(self) -> None:
        self._attempts.read(
            "ping",
            lambda: self._users.get_item(
                Key={USER_KEY: HEALTH_PROBE_KEY}, ProjectionExpression=USER_KEY
            ),
        )

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def get(self, user_id: str) -> dict[str, Any] | None:
        return self._get_item(self._users, USER_KEY, user_id)

    @tracer.capture_method(capture_response=False)
    def get_idempotency_record(self, key_hash: str) -> IdempotencyRecord | None:
        item = self._get_item(self._idempotency, IDEMPOTENCY_KEY, key_hash)
        if item is None:  # the key may still be held by an earlier release's record
            item = self._get_item(self._users, USER_KEY, LEGACY_IDEMPOTENCY_PREFIX + key_hash)
        if item is None:
            return None
        return IdempotencyRecord(
            key_hash=key_hash,
            request_hash=str(item.get("requestHash", "")),
            user_id=str(item.get("userId", "")),
            created_at=str(item.get("createdAt", "")),
            expires_at=int(item.get(EXPIRES_AT, 0)),
        )

    def _get_item(self, table: Table, key_name: str, key: str) -> dict[str, Any] | None:
        response = self._attempts.read(
            "get", lambda: table.get_item(Key={key_name: key}, ConsistentRead=True)
        )
        item = response.get("Item")
        return dict(item) if item else None

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def scan_users(self, limit: int, start_key: dict[str, Any] | None) -> ScanPage:
        """Up to ``limit`` users from ``start_key`` on, and where the next page starts (if any).

        One user beyond the page is read, so that a page that ends the table carries no next key
        (DynamoDB returns a LastEvaluatedKey whenever Limit is reached, even with nothing left).
        Another round is read only when DynamoDB stopped at its 1 MB cap before the page was full;
        when the deadline allows no more, the page ends where the rounds did (never empty).
        """
        wanted = limit + 1
        items: list[dict[str, Any]] = []
        key = start_key
        while True:
            response = self._attempts.read(
                "list", partial(self._scan_round, wanted - len(items), key)
            )
            items.extend(dict(item) for item in response.get("Items", []) if _is_user(item))
            key = response.get("LastEvaluatedKey")
            if key is None or len(items) >= wanted:
                break
            if items and not self._attempts.another_fits():
                return ScanPage(items=items, last_key={USER_KEY: items[-1][USER_KEY]})
        if len(items) > limit:
            page = items[:limit]
            # The page's last user is where the next page starts: a scan resumes after it.
            return ScanPage(items=page, last_key={USER_KEY: page[-1][USER_KEY]})
        return ScanPage(items=items, last_key=dict(key) if key else None)

    def _scan_round(self, limit: int, start_key: dict[str, Any] | None) -> Any:
        kwargs: dict[str, Any] = {"Limit": limit, "ConsistentRead": True}
        if start_key is not None:
            kwargs["ExclusiveStartKey"] = start_key
        return self._users.scan(**kwargs)

    # --- writes ------------------------------------------------------------------------------

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def create(self, user: dict[str, Any]) -> None:
        def send() -> None:
            self._users.put_item(Item=user, ConditionExpression="attribute_not_exists(UserId)")

        def settle(exc: ClientError, unconfirmed: bool) -> None:
            if error_code(exc) == CONDITION_FAILED and unconfirmed:
                return  # the fresh id is stored: the unconfirmed attempt committed
            raise exc

        self._attempts.write("create", send, settle)

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def create_with_idempotency_record(
        self, user: dict[str, Any], record: IdempotencyRecord, now_epoch: int
    ) -> None:
        """Write the user and its idempotency record atomically; nothing is half-written."""
        token = self._new_token()
        items = [
            {
                "Put": {
                    "TableName": self._users.name,
                    "Item": user,
                    "ConditionExpression": "attribute_not_exists(UserId)",
                }
            },
            {
                "Put": {
                    "TableName": self._idempotency.name,
                    "Item": {
                        IDEMPOTENCY_KEY: record.key_hash,
                        "requestHash": record.request_hash,
                        "userId": record.user_id,
                        "createdAt": record.created_at,
                        EXPIRES_AT: record.expires_at,
                    },
                    # An expired record that TTL has not swept yet may be replaced.
                    "ConditionExpression": (
                        "attribute_not_exists(IdempotencyKey) OR expiresAt < :now"
                    ),
                    "ExpressionAttributeValues": {":now": now_epoch},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": self._users.name,
                    "Key": {USER_KEY: LEGACY_IDEMPOTENCY_PREFIX + record.key_hash},
                    "ConditionExpression": "attribute_not_exists(UserId) OR expiresAt < :now",
                    "ExpressionAttributeValues": {":now": now_epoch},
                }
            },
        ]

        def send() -> None:
            self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)

        def settle(exc: ClientError, unconfirmed: bool) -> None:
            reasons = cancellation_reasons(exc) if error_code(exc) == TRANSACTION_CANCELLED else []
            if len(reasons) != len(items):
                raise exc
            if reasons[0] == "ConditionalCheckFailed" and unconfirmed:
                return  # the fresh id is stored: the unconfirmed attempt committed
            if "ConditionalCheckFailed" in reasons[1:]:  # a record, of this release or before
                raise IdempotencyKeyTaken() from exc
            raise exc

        self._attempts.write("create", send, settle)

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def update(
        self,
        user_id: str,
        values: dict[str, str],
        removed: frozenset[str],
        condition: VersionCondition,
        updated_at: str,
    ) -> dict[str, Any]:
        """One conditional UpdateItem: set/remove fields, bump the version, set updatedAt."""
        token = self._new_token()
        exists, names, attribute_values = _version_condition(condition)
        names = {**names, "#version": "version", "#updatedAt": "updatedAt", "#token": WRITE_TOKEN}
        attribute_values = {
            **attribute_values,
            ":one": 1,
            ":updatedAt": updated_at,
            ":token": token,
        }
        assignments = []
        for index, (field, value) in enumerate(sorted(values.items())):
            names[f"#f{index}"] = field
            attribute_values[f":f{index}"] = value
            assignments.append(f"#f{index} = :f{index}")
        assignments += [
            "#updatedAt = :updatedAt",
            "#version = #version + :one",
            "#token = :token",
        ]
        expression = "SET " + ", ".join(assignments)
        if removed:
            removals = []
            for index, field in enumerate(sorted(removed)):
                names[f"#r{index}"] = field
                removals.append(f"#r{index}")
            expression += " REMOVE " + ", ".join(removals)

        def send() -> dict[str, Any]:
            response = self._users.update_item(
                Key={USER_KEY: user_id},
                UpdateExpression=expression,
                ConditionExpression=(
                    f"({exists}) AND (attribute_not_exists(#token) OR #token <> :token)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return dict(response["Attributes"])

        def settle(exc: ClientError, unconfirmed: bool) -> dict[str, Any]:
            if error_code(exc) != CONDITION_FAILED:
                raise exc
            current = _plain(exc.response.get("Item"))  # type: ignore[arg-type]
            if current is not None and current.get(WRITE_TOKEN) == token:
                return current  # this call's own earlier attempt committed: its result
            self._refuse(exc, current is not None, unconfirmed, "update")

        return self._attempts.write("update", send, settle)

    @tracer.capture_method(capture_response=False)  # items hold personal data
    def delete(self, user_id: str, condition: VersionCondition) -> None:
        token = self._new_token()
        expression, names, values = _version_condition(condition)
        delete: dict[str, Any] = {
            "TableName": self._users.name,
            "Key": {USER_KEY: user_id},
            "ConditionExpression": expression,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            delete["ExpressionAttributeNames"] = names
            delete["ExpressionAttributeValues"] = values

        def send() -> None:
            self._client.transact_write_items(
                TransactItems=[{"Delete": delete}], ClientRequestToken=token
            )

        def settle(exc: ClientError, unconfirmed: bool) -> None:
            if cancellation_reasons(exc) != ["ConditionalCheckFailed"]:
                raise exc
            reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons", [{}])  # type: ignore[assignment]
            self._refuse(exc, bool(reasons[0].get("Item")), unconfirmed, "delete")

        self._attempts.write("delete", send, settle)

    @property
    def _client(self) -> Any:
        return self._users.meta.client

    @staticmethod
    def _refuse(exc: ClientError, exists: bool, unconfirmed: bool, operation: str) -> NoReturn:
        """A condition refused this attempt; what that means for the whole call."""
        if unconfirmed:
            # An earlier attempt may have applied and been changed since: nothing is proven.
            raise DependencyTimeout(operation=operation) from exc
        if exists:
            raise PreconditionFailed() from exc
        raise UserNotFound() from exc
