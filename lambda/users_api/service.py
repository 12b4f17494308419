"""Domain rules: what a user is, versions and ETags, timestamps, idempotent creation."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from users_api.definitions import METRIC_USER_CREATED, METRIC_USER_DELETED, METRIC_USER_UPDATED
from users_api.errors import (
    DependencyUnavailable,
    IdempotencyConflict,
    UserDeleted,
    UserNotFound,
)
from users_api.models import IdempotencyRecord, ScanPage, VersionCondition
from users_api.observability import count, logger
from users_api.repository import IdempotencyKeyTaken
from users_api.timeutil import Clock, iso_timestamp, utc_now
from users_api.validation import MUTABLE_FIELDS, IfMatch, UserChanges, is_user_id

IDEMPOTENCY_TTL = timedelta(hours=25)  # the contract promises at least 24 hours
PUBLIC_FIELDS = ("UserId", *MUTABLE_FIELDS, "createdAt", "updatedAt", "version")


class Repository(Protocol):
    def ping(self) -> None: ...
    def get(self, user_id: str) -> dict[str, Any] | None: ...
    def create(self, user: dict[str, Any]) -> None: ...
    def create_with_idempotency_record(
        self, user: dict[str, Any], record: IdempotencyRecord, now_epoch: int
    ) -> None: ...
    def get_idempotency_record(self, key_hash: str) -> IdempotencyRecord | None: ...
    def scan_users(self, limit: int, start_key: dict[str, Any] | None) -> ScanPage: ...
    def update(
        self,
        user_id: str,
        values: dict[str, str],
        removed: frozenset[str],
        condition: VersionCondition,
        updated_at: str,
    ) -> dict[str, Any]: ...
    def delete(self, user_id: str, condition: VersionCondition) -> None: ...


@dataclass(frozen=True)
class CreateResult:
    user: dict[str, Any]
    replayed: bool = False


def public_user(item: Mapping[str, Any]) -> dict[str, Any]:
    """The user as the API shows it: known fields only, ``version`` as a plain int."""
    user = {field: item[field] for field in PUBLIC_FIELDS if field in item}
    if isinstance(user.get("version"), Decimal):
        user["version"] = int(user["version"])
    return user


def request_fingerprint(body: Mapping[str, Any]) -> str:
    """What makes two requests 'the same body' for an ``Idempotency-Key``: the JSON document,
    with ``email`` compared case-insensitively as the contract says."""
    canonical_body = dict(body)
    if isinstance(canonical_body.get("email"), str):
        canonical_body["email"] = canonical_body["email"].casefold()
    canonical = json.dumps(
        canonical_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def idempotency_key_hash(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


def version_condition(if_match: IfMatch | None) -> VersionCondition:
    if if_match is None or if_match.any_version:
        return VersionCondition()
    return VersionCondition(versions=if_match.versions)


class UsersService:
    def __init__(
        self,
        repository: Repository,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._new_id = new_id

    def create(
        self,
        fields: dict[str, str],
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> CreateResult:
        now = self._clock()
        timestamp = iso_timestamp(now)
        user: dict[str, Any] = {
            "UserId": self._new_id(),
            **fields,
            "createdAt": timestamp,
            "updatedAt": timestamp,
            "version": 1,
        }
        if idempotency_key is None:
            self._repo.create(user)
        else:
            record = IdempotencyRecord(
                key_hash=idempotency_key_hash(idempotency_key),
                request_hash=fingerprint or "",
                user_id=user["UserId"],
                created_at=timestamp,
                expires_at=int((now + IDEMPOTENCY_TTL).timestamp()),
            )
            try:
                self._repo.create_with_idempotency_record(user, record, int(now.timestamp()))
            except IdempotencyKeyTaken:
                return self._replay(record.key_hash, record.request_hash)
        count(METRIC_USER_CREATED)
        logger.info("User created", extra={"user_id": user["UserId"]})
        return CreateResult(user=public_user(user))

    def _replay(self, key_hash: str, fingerprint: str) -> CreateResult:
        record = self._repo.get_idempotency_record(key_hash)
        if record is None:  # swept by TTL between the write and this read: a retry will succeed
            raise DependencyUnavailable()
        if record.request_hash != fingerprint:
            raise IdempotencyConflict()
        try:
            user = self.get(record.user_id)
        except UserNotFound:
            # Written in one transaction with its record, so it existed: it was deleted since.
            raise UserDeleted() from None
        logger.info("Idempotent replay", extra={"user_id": record.user_id})
        return CreateResult(user=user, replayed=True)

    def get(self, user_id: str) -> dict[str, Any]:
        if not is_user_id(user_id):
            raise UserNotFound()
        item = self._repo.get(user_id)
        if item is None:
            raise UserNotFound()
        return public_user(item)

    def list(
        self, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        page = self._repo.scan_users(limit, start_key)
        return [public_user(item) for item in page.items], page.last_key

    def update(
        self, user_id: str, changes: UserChanges, if_match: IfMatch | None
    ) -> dict[str, Any]:
        if not is_user_id(user_id):
            raise UserNotFound()
        item = self._repo.update(
            user_id,
            changes.values,
            changes.removed,
            version_condition(if_match),
            iso_timestamp(self._clock()),
        )
        count(METRIC_USER_UPDATED)
        logger.info(
            "User updated",
            extra={"user_id": user_id, "fields": sorted([*changes.values, *changes.removed])},
        )
        return public_user(item)

    def delete(self, user_id: str, if_match: IfMatch | None) -> None:
        if not is_user_id(user_id):
            raise UserNotFound()
        self._repo.delete(user_id, version_condition(if_match))
        count(METRIC_USER_DELETED)
        logger.info("User deleted", extra={"user_id": user_id})
