"""The records the service and the repository hand each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IdempotencyRecord:
    """Which user an ``Idempotency-Key`` created, and a fingerprint of the request that did."""

    key_hash: str  # sha256 of the header: the key itself is never stored
    request_hash: str
    user_id: str
    created_at: str
    expires_at: int  # epoch seconds: DynamoDB's TTL sweeps the record after this


@dataclass(frozen=True)
class ScanPage:
    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None


@dataclass(frozen=True)
class VersionCondition:
    """What a PUT or DELETE requires of the stored user: that it exists, and optionally that its
    version is one of ``versions`` (``If-Match``; an empty set can never match)."""

    versions: frozenset[int] | None = None
