"""The public contract, driven through the deployed API Gateway → Lambda → DynamoDB path."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest

from e2e.api_client import Api, assert_error, assert_success, new_user
from infra.names import RESERVED_CONCURRENCY, OutputKeys


@pytest.fixture
def count_items(aws: Any, deployment: Any) -> Any:
    table = deployment.outputs[OutputKeys.TABLE_NAME]

    def count() -> int:
        return int(aws("dynamodb").scan(TableName=table, Select="COUNT")["Count"])

    return count


def test_health_reports_its_dependencies(api: Api) -> None:
    data = assert_success(api.request("GET", "/"), 200)
    assert data["status"] == "healthy"
    assert data["checks"] == {"dynamodb": "ok", "config": "ok"}
    assert data["version"]


def test_create_then_read_a_user(api: Api) -> None:
    # Given a valid new user
    body = new_user(phone="+44 20 7946 0000", address="12 St James's Square, London")
    # When it is created
    created = api.request("POST", "/users", json=body)
    user = assert_success(created, 201)
    # Then the stored user comes back with its location and version
    assert created.headers["Location"] == f"/users/{user['UserId']}"
    assert created.headers["ETag"] == '"1"'
    assert {k: user[k] for k in body} == body
    assert user["version"] == 1
    assert user["createdAt"] == user["updatedAt"]
    assert user["createdAt"].endswith("Z")
    # And reading it returns the same user and ETag
    read = api.request("GET", f"/users/{user['UserId']}")
    assert assert_success(read, 200) == user
    assert read.headers["ETag"] == '"1"'


def test_update_is_partial_and_bumps_the_version(api: Api) -> None:
    user = api.create_user(phone="+1 555 0100")
    # When only the name changes, with the current ETag
    response = api.request(
        "PUT", f"/users/{user['UserId']}", json={"name": "New Name"}, headers={"If-Match": '"1"'}
    )
    # Then the other fields are untouched and the version moves on
    updated = assert_success(response, 200)
    assert updated["name"] == "New Name"
    assert updated["email"] == user["email"]
    assert updated["phone"] == user["phone"]
    assert updated["version"] == 2
    assert response.headers["ETag"] == '"2"'


def test_stale_if_match_changes_nothing(api: Api) -> None:
    user = api.create_user()
    api.request("PUT", f"/users/{user['UserId']}", json={"name": "First"})
    # When a client updates with the ETag it read before that change
    stale = api.request(
        "PUT", f"/users/{user['UserId']}", json={"name": "Second"}, headers={"If-Match": '"1"'}
    )
    assert_error(stale, 412, "PRECONDITION_FAILED")
    stale_delete = api.request("DELETE", f"/users/{user['UserId']}", headers={"If-Match": '"1"'})
    assert_error(stale_delete, 412, "PRECONDITION_FAILED")
    # Then the user is as the first update left it
    current = assert_success(api.request("GET", f"/users/{user['UserId']}"), 200)
    assert (current["name"], current["version"]) == ("First", 2)


def test_delete_then_the_user_is_gone(api: Api) -> None:
    user = api.create_user()
    deleted = assert_success(api.request("DELETE", f"/users/{user['UserId']}"), 200)
    assert deleted == {"message": f"User {user['UserId']} deleted successfully"}
    assert_error(api.request("GET", f"/users/{user['UserId']}"), 404, "USER_NOT_FOUND")
    assert_error(api.request("DELETE", f"/users/{user['UserId']}"), 404, "USER_NOT_FOUND")
    assert_error(
        api.request("PUT", f"/users/{user['UserId']}", json={"name": "X"}), 404, "USER_NOT_FOUND"
    )


def test_pagination_returns_every_user_exactly_once(api: Api) -> None:
    # Given more users than one page holds
    created = {api.create_user()["UserId"] for _ in range(5)}
    # When a client follows nextToken from the first page until it is absent
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(100):
        data = assert_success(api.request("GET", "/users", params=params), 200)
        assert data["count"] == len(data["users"]) <= 2
        seen += [u["UserId"] for u in data["users"]]
        if "nextToken" not in data:
            break
        params = {"limit": 2, "nextToken": data["nextToken"]}
    # Then every user came back, none twice
    assert len(seen) == len(set(seen))
    assert created <= set(seen)


def test_idempotency_key_replays_the_first_creation(api: Api, count_items: Any) -> None:
    body = new_user()
    headers = {"Idempotency-Key": f"key-{body['email']}"}
    first = assert_success(api.request("POST", "/users", json=body, headers=headers), 201)
    items = count_items()
    # When the same request is repeated
    again = api.request("POST", "/users", json=body, headers=headers)
    # Then it returns the same user, marked as a replay, and stores nothing new
    assert assert_success(again, 200)["UserId"] == first["UserId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_items() == items
    # And the same key with another body is a conflict
    other = api.request("POST", "/users", json=new_user(), headers=headers)
    assert_error(other, 409, "IDEMPOTENCY_CONFLICT")
    assert count_items() == items


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "INVALID_JSON"),
        ("[1, 2]", "INVALID_BODY"),
        ('"a string"', "INVALID_BODY"),
    ],
)
def test_malformed_bodies_are_rejected(api: Api, count_items: Any, body: str, code: str) -> None:
    before = count_items()
    response = api.request(
        "POST", "/users", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, code)
    assert count_items() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": 1.5}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"phone": "12"}, "phone"),
        ({"address": "x" * 501}, "address"),
        ({"UserId": "chosen-by-client"}, "UserId"),
        ({"version": 7}, "version"),
        ({"admin": True}, "admin"),
    ],
)
def test_invalid_fields_are_400_with_details(
    api: Api, count_items: Any, overrides: dict[str, Any], field: str
) -> None:
    before = count_items()
    response = api.request("POST", "/users", json=new_user(**overrides))
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in {detail["field"] for detail in body["details"]}
    assert count_items() == before


def test_missing_required_fields_are_listed(api: Api) -> None:
    body = assert_error(api.request("POST", "/users", json={}), 400, "VALIDATION_ERROR")
    assert {"name", "email"} <= {detail["field"] for detail in body["details"]}


def test_update_without_a_mutable_field_is_400(api: Api) -> None:
    user = api.create_user()
    response = api.request("PUT", f"/users/{user['UserId']}", json={})
    assert_error(response, 400, "VALIDATION_ERROR")


def test_a_body_over_16_kib_is_413(api: Api, count_items: Any) -> None:
    before = count_items()
    response = api.request("POST", "/users", json=new_user(address="x" * (17 * 1024)))
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert count_items() == before


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "1.5"},
        {"limit": "101"},
        {"nextToken": "forged"},
        {"nextToken": "eyJVc2VySWQiOiAieCJ9"},
    ],
)
def test_bad_query_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    assert_error(api.request("GET", "/users", params=params), 400, "INVALID_QUERY")


def test_unknown_path_is_a_json_404(api: Api) -> None:
    assert_error(api.request("GET", "/nowhere"), 404, "NOT_FOUND")


def test_unsupported_method_is_a_json_405(api: Api) -> None:
    assert_error(api.request("PATCH", "/users"), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.request("POST", "/users/some-id"), 405, "METHOD_NOT_ALLOWED")


def test_cors_preflight_allows_the_paths_methods_and_headers(api: Api) -> None:
    response = api.request(
        "OPTIONS",
        "/users",
        headers={"Origin": "https://client.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"Content-Type", "If-Match", "Idempotency-Key", "Authorization", "X-Api-Key"} <= allowed


def test_responses_carry_cors_and_request_id_headers(api: Api) -> None:
    response = api.request("GET", "/users", headers={"Origin": "https://client.example"})
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://client.example")
    assert response.headers["X-Request-Id"]
    assert json.loads(response.text)["success"] is True


def test_racing_creates_with_the_same_key_all_answer_the_one_user(
    api: Api, aws: Any, deployment: Any
) -> None:
    # Given one body and one Idempotency-Key, sent by as many clients at once as may run
    body = new_user()
    headers = {"Idempotency-Key": f"race-{body['email']}"}
    barrier = Barrier(RESERVED_CONCURRENCY)

    def create(_: int) -> Any:
        barrier.wait()
        return api.request("POST", "/users", json=body, headers=headers)

    # When they race
    with ThreadPoolExecutor(RESERVED_CONCURRENCY) as pool:
        answers = list(pool.map(create, range(RESERVED_CONCURRENCY)))

    # Then every one answers the same user (201 once, 200 for replays), none a 503
    statuses = sorted(response.status_code for response in answers)
    assert set(statuses) <= {200, 201}, statuses
    assert statuses.count(201) == 1, statuses
    assert len({response.json()["data"]["UserId"] for response in answers}) == 1
    stored = aws("dynamodb").scan(
        TableName=deployment.outputs[OutputKeys.TABLE_NAME],
        ConsistentRead=True,
        FilterExpression="email = :email",
        ExpressionAttributeValues={":email": {"S": body["email"]}},
    )["Items"]
    assert len(stored) == 1
