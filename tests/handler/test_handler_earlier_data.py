"""Data an earlier release wrote reads right: release e82e621 kept its idempotency records in the
users table (``UserId = "idempotency#<sha256 of the key>"``), and a deploy over it moves nothing."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import boto3

from tests.handler.conftest import (
    REGION,
    TABLE_NAME,
    Invoke,
    api_event,
    create_user,
    idempotency_items,
    table_items,
)
from users_api.service import request_fingerprint

BODY = {"name": "Ada Lovelace", "email": "Ada@Example.com"}


def write_legacy_record(key: str, user_id: str, body: dict[str, Any], expires_in: int) -> None:
    """The record exactly as release e82e621's service wrote it, beside its user."""
    boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME).put_item(
        Item={
            "UserId": "idempotency#" + hashlib.sha256(key.encode()).hexdigest(),
            "requestHash": request_fingerprint(body),
            "userId": user_id,
            "createdAt": "2026-11-25T05:37:01.000Z",
            "expiresAt": int(time.time()) + expires_in,
        }
    )


def users_in_table() -> list[str]:
    return sorted(str(item["UserId"]) for item in table_items())


def test_an_old_idempotency_key_replays_the_user_it_created_and_stores_nothing(
    invoke: Invoke,
) -> None:
    # Given a user an earlier release created with a key, and that release's record of it
    user = create_user(invoke, **BODY)
    write_legacy_record("old-key-1", user["UserId"], BODY, expires_in=3600)
    before = (users_in_table(), idempotency_items())

    # When the client retries with the same key and body
    replay = invoke(
        api_event("POST", "/users", body=BODY, headers={"Idempotency-Key": "old-key-1"})
    )

    # Then it gets that user back, and nothing new is written in either table
    assert replay.status == 200, replay.body
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.data["UserId"] == user["UserId"]
    assert (users_in_table(), idempotency_items()) == before


def test_an_old_idempotency_key_with_another_body_is_409(invoke: Invoke) -> None:
    user = create_user(invoke, **BODY)
    write_legacy_record("old-key-2", user["UserId"], BODY, expires_in=3600)

    other = invoke(
        api_event(
            "POST",
            "/users",
            body={"name": "Someone Else", "email": "else@example.com"},
            headers={"Idempotency-Key": "old-key-2"},
        )
    )

    assert other.status == 409
    assert other.body["code"] == "IDEMPOTENCY_CONFLICT"


def test_an_expired_old_record_frees_its_key(invoke: Invoke) -> None:
    # Given an old record past its expiry that TTL has not swept yet
    user = create_user(invoke, **BODY)
    write_legacy_record("old-key-3", user["UserId"], BODY, expires_in=-10)

    # When the key is used again
    again = invoke(api_event("POST", "/users", body=BODY, headers={"Idempotency-Key": "old-key-3"}))

    # Then it creates a new user, as an expired key does in this release
    assert again.status == 201
    assert again.data["UserId"] != user["UserId"]


def test_listing_never_shows_an_old_record(invoke: Invoke) -> None:
    # Given two users and, between them in the table, records of an earlier release
    users = [create_user(invoke, name=f"User {i}", email=f"u{i}@example.com") for i in range(2)]
    for i in range(3):
        write_legacy_record(f"old-list-{i}", users[0]["UserId"], BODY, expires_in=3600)

    # When every page is read, one user a page
    seen: list[str] = []
    query: dict[str, str] = {"limit": "1"}
    while True:
        page = invoke(api_event("GET", "/users", query=query))
        assert page.status == 200
        assert page.data["users"], "a page is never empty"
        seen += [item["UserId"] for item in page.data["users"]]
        if "nextToken" not in page.data:
            break
        query = {"limit": "1", "nextToken": page.data["nextToken"]}

    # Then exactly the users are listed
    assert sorted(seen) == sorted(user["UserId"] for user in users)


def test_a_key_repeated_after_its_user_was_deleted_is_410_and_creates_nothing(
    invoke: Invoke,
) -> None:
    # Given a user created with a key, then deleted
    headers = {"Idempotency-Key": "deleted-1"}
    created = invoke(api_event("POST", "/users", body=BODY, headers=headers))
    assert created.status == 201
    deleted = invoke(api_event("DELETE", f"/users/{created.data['UserId']}"))
    assert deleted.status == 200

    # When the client repeats the request
    repeat = invoke(api_event("POST", "/users", body=BODY, headers=headers))

    # Then it learns the user was deleted, and nothing is created
    assert repeat.status == 410
    assert repeat.body["code"] == "USER_DELETED"
    assert repeat.body["success"] is False
    assert table_items() == []


def test_an_old_key_whose_user_was_deleted_is_410(invoke: Invoke) -> None:
    user = create_user(invoke, **BODY)
    write_legacy_record("old-key-4", user["UserId"], BODY, expires_in=3600)
    assert invoke(api_event("DELETE", f"/users/{user['UserId']}")).status == 200

    repeat = invoke(
        api_event("POST", "/users", body=BODY, headers={"Idempotency-Key": "old-key-4"})
    )

    assert repeat.status == 410
    assert repeat.body["code"] == "USER_DELETED"
    assert [item["UserId"] for item in table_items()] == [
        "idempotency#" + hashlib.sha256(b"old-key-4").hexdigest()
    ]
