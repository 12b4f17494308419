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

from users_api.errors import DependencyUnavailable, IdempotencyConflict, UserNotFound
from users_api.observability import (
    METRIC_USER_CREATED,
    METRIC_USER_DELETED,
    METRIC_USER_UPDATED,
    count,
    logger,
)
from users_api.repository import IDEMPOTENCY_PREFIX, IdempotencyKeyTaken, ScanPage
from users_api.timeutil import Clock, iso_timestamp, utc_now
from users_api.validation import MUTABLE_FIELDS, IfMatch, UserChanges, is_user_id

IDEMPOTENCY_TTL = timedelta(hours=25)  # the contract promises at least 24 hours
PUBLIC_FIELDS = ("UserId", *MUTABLE_FIELDS, "createdAt", "updatedAt", "version")


class Repository(Protocol):
    def ping(self) -> None: ...
    def get(self, user_id: str) -> dict[str, Any] | None: ...
    def create(self, user: dict[str, Any]) -> None: ...
    def create_with_idempotency_record(
        self, user: dict[str, Any], record: dict[str, Any], now_epoch: int
    ) -> None: ...
    def get_idempotency_record(self, record_key: str) -> dict[str, Any] | None: ...
    def scan_users(self, limit: int, start_key: dict[str, Any] | None) -> ScanPage: ...
    def update(
        self,
        user_id: str,
        values: dict[str, str],
        removed: frozenset[str],
        if_match: IfMatch | None,
        updated_at: str,
    ) -> dict[str, Any]: ...
    def delete(self, user_id: str, if_match: IfMatch | None) -> None: ...


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
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def idempotency_record_key(idempotency_key: str) -> str:
    return IDEMPOTENCY_PREFIX + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


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
            record_key = idempotency_record_key(idempotency_key)
            record = {
                "UserId": record_key,
                "requestHash": fingerprint or "",
                "userId": user["UserId"],
                "createdAt": timestamp,
                "expiresAt": int((now + IDEMPOTENCY_TTL).timestamp()),
            }
            try:
                self._repo.create_with_idempotency_record(user, record, int(now.timestamp()))
            except IdempotencyKeyTaken:
                return self._replay(record_key, fingerprint or "")
        count(METRIC_USER_CREATED)
        logger.info("User created", extra={"user_id": user["UserId"]})
        return CreateResult(user=public_user(user))

    def _replay(self, record_key: str, fingerprint: str) -> CreateResult:
        record = self._repo.get_idempotency_record(record_key)
        if record is None:  # swept by TTL between the write and this read: a retry will succeed
            raise DependencyUnavailable()
        if record.get("requestHash") != fingerprint:
            raise IdempotencyConflict()
        user_id = str(record.get("userId", ""))
        logger.info("Idempotent replay", extra={"user_id": user_id})
        return CreateResult(user=self.get(user_id), replayed=True)

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
            user_id, changes.values, changes.removed, if_match, iso_timestamp(self._clock())
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
        self._repo.delete(user_id, if_match)
        count(METRIC_USER_DELETED)
        logger.info("User deleted", extra={"user_id": user_id})
