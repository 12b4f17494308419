"""The user resource end to end through ``handler.lambda_handler`` against moto's DynamoDB."""

from __future__ import annotations

import re
from datetime import datetime

from tests.handler.conftest import Invoke, api_event, create_user, idempotency_items, table_items

ISO_Z_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_create_returns_201_location_etag_and_the_stored_user(invoke: Invoke) -> None:
    # Given
    payload = {
        "name": "  Ada Lovelace ",
        "email": "Ada@Example.com",
        "phone": "+44 20 7946 0000",
        "address": "12 St James's Square, London",
    }

    # When
    response = invoke(api_event("POST", "/users", body=payload))

    # Then
    assert response.status == 201
    user = response.data
    assert response.header("Location") == f"/users/{user['UserId']}"
    assert response.header("ETag") == '"1"'
    assert user["name"] == "Ada Lovelace"  # trimmed
    assert user["email"] == "Ada@Example.com"  # stored as given
    assert user["version"] == 1
    assert user["createdAt"] == user["updatedAt"]
    assert response.body["success"] is True
    assert response.body["environment"] == "dev"
    assert [item["UserId"] for item in table_items()] == [user["UserId"]]


def test_timestamps_are_utc_iso8601_with_milliseconds_and_z(invoke: Invoke) -> None:
    """Regression: the draft used naive ``datetime.utcnow().isoformat()``."""
    user = create_user(invoke)
    response = invoke(api_event("GET", f"/users/{user['UserId']}"))

    for value in (user["createdAt"], user["updatedAt"], response.body["timestamp"]):
        assert ISO_Z_MILLIS.match(value), value
        assert datetime.fromisoformat(value).utcoffset() is not None


def test_version_comes_back_as_a_json_integer_not_a_string(invoke: Invoke) -> None:
    """Regression: the draft serialised DynamoDB's Decimal with ``default=str``."""
    # Given a user stored in DynamoDB (numbers come back as Decimal)
    user = create_user(invoke)

    # When
    response = invoke(api_event("GET", f"/users/{user['UserId']}"))

    # Then
    assert '"version":1' in response.raw["body"]
    assert type(response.data["version"]) is int
    assert response.header("ETag") == '"1"'


def test_get_unknown_user_is_404_user_not_found(invoke: Invoke) -> None:
    response = invoke(api_event("GET", "/users/3f0c0000-0000-4000-8000-000000000000"))

    assert response.status == 404
    assert response.body["code"] == "USER_NOT_FOUND"
    assert response.body["error"] == "User not found"


def test_update_changes_only_the_fields_sent_and_bumps_version(invoke: Invoke) -> None:
    # Given
    user = create_user(invoke, phone="+1 555 0100")

    # When
    response = invoke(api_event("PUT", f"/users/{user['UserId']}", body={"address": "1 Main St"}))

    # Then
    assert response.status == 200
    updated = response.data
    assert updated["address"] == "1 Main St"
    assert updated["phone"] == "+1 555 0100"
    assert updated["name"] == user["name"]
    assert updated["version"] == 2
    assert response.header("ETag") == '"2"'
    assert updated["createdAt"] == user["createdAt"]
    assert updated["updatedAt"] >= user["updatedAt"]


def test_update_with_null_removes_an_optional_field(invoke: Invoke) -> None:
    user = create_user(invoke, phone="+1 555 0100")

    response = invoke(api_event("PUT", f"/users/{user['UserId']}", body={"phone": None}))

    assert response.status == 200
    assert "phone" not in response.data


def test_update_with_current_if_match_succeeds_and_stale_one_is_412_and_changes_nothing(
    invoke: Invoke,
) -> None:
    # Given a user updated once (version 2)
    user = create_user(invoke)
    path = f"/users/{user['UserId']}"
    first = invoke(api_event("PUT", path, body={"name": "Ada"}, headers={"If-Match": '"1"'}))
    assert first.status == 200

    # When a client still holding ETag "1" writes
    stale = invoke(api_event("PUT", path, body={"name": "Lost"}, headers={"If-Match": '"1"'}))

    # Then
    assert stale.status == 412
    assert stale.body["code"] == "PRECONDITION_FAILED"
    current = invoke(api_event("GET", path))
    assert current.data["name"] == "Ada"
    assert current.data["version"] == 2


def test_if_match_star_matches_and_weak_etags_never_do(invoke: Invoke) -> None:
    user = create_user(invoke)
    path = f"/users/{user['UserId']}"

    star = invoke(api_event("PUT", path, body={"name": "B"}, headers={"If-Match": "*"}))
    weak = invoke(api_event("PUT", path, body={"name": "C"}, headers={"If-Match": 'W/"2"'}))
    garbage = invoke(api_event("PUT", path, body={"name": "D"}, headers={"If-Match": "nope"}))

    # If-Match compares strongly (RFC 9110): W/"2" names the current version but cannot match.
    assert (star.status, weak.status, garbage.status) == (200, 412, 412)


def test_update_of_unknown_user_is_404_and_creates_nothing(invoke: Invoke) -> None:
    """Regression: an upsert would create a half user."""
    response = invoke(
        api_event("PUT", "/users/3f0c0000-0000-4000-8000-000000000000", body={"name": "X"})
    )

    assert response.status == 404
    assert response.body["code"] == "USER_NOT_FOUND"
    assert table_items() == []


def test_update_without_a_mutable_field_is_400(invoke: Invoke) -> None:
    user = create_user(invoke)

    response = invoke(api_event("PUT", f"/users/{user['UserId']}", body={}))

    assert response.status == 400
    assert response.body["code"] == "VALIDATION_ERROR"


def test_delete_removes_the_user(invoke: Invoke) -> None:
    # Given
    user = create_user(invoke)
    path = f"/users/{user['UserId']}"

    # When
    response = invoke(api_event("DELETE", path))

    # Then
    assert response.status == 200
    assert response.data == {"message": f"User {user['UserId']} deleted successfully"}
    assert invoke(api_event("GET", path)).status == 404
    assert invoke(api_event("DELETE", path)).status == 404


def test_delete_with_stale_if_match_is_412_and_keeps_the_user(invoke: Invoke) -> None:
    user = create_user(invoke)
    path = f"/users/{user['UserId']}"

    response = invoke(api_event("DELETE", path, headers={"If-Match": '"5"'}))

    assert response.status == 412
    assert invoke(api_event("GET", path)).status == 200
    assert invoke(api_event("DELETE", path, headers={"If-Match": '"1"'})).status == 200


def test_following_next_token_returns_every_user_exactly_once(invoke: Invoke) -> None:
    # Given 7 users, 2 of them created with an Idempotency-Key
    created = {create_user(invoke, name=f"User {i}")["UserId"] for i in range(5)}
    for i in range(2):
        response = invoke(
            api_event(
                "POST",
                "/users",
                body={"name": f"Keyed {i}", "email": "k@example.com"},
                headers={"Idempotency-Key": f"key-{i}"},
            )
        )
        created.add(response.data["UserId"])

    # When the client pages with limit=2
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": "2", **({"nextToken": token} if token else {})}
        page = invoke(api_event("GET", "/users", query=query))
        assert page.status == 200, page.body
        assert page.data["count"] == len(page.data["users"]) <= 2
        seen += [user["UserId"] for user in page.data["users"]]
        token = page.data.get("nextToken")
        pages += 1
        if token is None:
            break
        assert pages < 20

    # Then
    assert sorted(seen) == sorted(created)


def test_pages_are_never_empty_while_a_next_token_is_given(invoke: Invoke) -> None:
    """Regression: idempotency records shared the users table, so after keyed creates and
    deletes a page could hold no user and still carry a nextToken."""
    # Given 12 keyed creates of which 11 were deleted
    created = [
        invoke(
            api_event(
                "POST",
                "/users",
                body={"name": f"Keyed {i}", "email": "k@example.com"},
                headers={"Idempotency-Key": f"page-key-{i}"},
            )
        ).data["UserId"]
        for i in range(12)
    ]
    for user_id in created[:-1]:
        assert invoke(api_event("DELETE", f"/users/{user_id}")).status == 200

    # When the client pages one user at a time
    page = invoke(api_event("GET", "/users", query={"limit": "1"}))

    # Then the first page holds the one user and says there is nothing more
    assert [user["UserId"] for user in page.data["users"]] == [created[-1]]
    assert "nextToken" not in page.data


def test_a_page_that_ends_the_table_has_no_next_token(invoke: Invoke) -> None:
    # Given exactly two users
    for _ in range(2):
        create_user(invoke)
    # When a client asks for a page of exactly that size
    page = invoke(api_event("GET", "/users", query={"limit": "2"}))
    # Then it holds both, and says there is nothing more
    assert page.data["count"] == 2
    assert "nextToken" not in page.data


def test_list_without_limit_uses_default_page_size(invoke: Invoke) -> None:
    for i in range(3):
        create_user(invoke, name=f"User {i}")

    response = invoke(api_event("GET", "/users"))

    assert response.status == 200
    assert response.data["count"] == 3
    assert "nextToken" not in response.data


def test_same_idempotency_key_and_body_returns_the_first_user_and_stores_one(
    invoke: Invoke,
) -> None:
    # Given
    payload = {"name": "Grace Hopper", "email": "grace@example.com"}
    headers = {"Idempotency-Key": "create-grace-1"}

    # When the client retries the same request
    first = invoke(api_event("POST", "/users", body=payload, headers=headers))
    second = invoke(api_event("POST", "/users", body=payload, headers=headers))

    # Then
    assert first.status == 201
    assert second.status == 200
    assert second.header("Idempotent-Replayed") == "true"
    assert second.data["UserId"] == first.data["UserId"]
    assert len(table_items()) == 1
    records = idempotency_items()
    assert len(records) == 1
    assert records[0]["userId"] == first.data["UserId"]
    assert int(records[0]["expiresAt"]) > 0
    assert "create-grace-1" not in str(records[0])  # only a hash of the key is stored


def test_same_idempotency_key_with_another_body_is_409_and_writes_nothing(
    invoke: Invoke,
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = invoke(
        api_event("POST", "/users", body={"name": "A", "email": "a@example.com"}, headers=headers)
    )
    before = (table_items(), idempotency_items())

    second = invoke(
        api_event("POST", "/users", body={"name": "B", "email": "b@example.com"}, headers=headers)
    )

    assert first.status == 201
    assert second.status == 409
    assert second.body["code"] == "IDEMPOTENCY_CONFLICT"
    assert (table_items(), idempotency_items()) == before


def test_idempotency_key_must_be_printable_and_at_most_128_characters(invoke: Invoke) -> None:
    body = {"name": "A", "email": "a@example.com"}

    too_long = invoke(
        api_event("POST", "/users", body=body, headers={"Idempotency-Key": "k" * 129})
    )
    empty = invoke(api_event("POST", "/users", body=body, headers={"Idempotency-Key": ""}))

    assert too_long.status == empty.status == 400
    assert too_long.body["details"][0]["field"] == "Idempotency-Key"
    assert table_items() == []
