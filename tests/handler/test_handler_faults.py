"""The truth under faults: a write DynamoDB committed is never reported as failed, 503 means
nothing was written, 504 means the outcome is unknown, and the answer comes inside the deadline.

DynamoDB is moto; faults are injected at botocore's edge (tests/handler/faults.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.handler.conftest import (
    REGION,
    TABLE_NAME,
    FakeMonotonic,
    Invoke,
    api_event,
    create_user,
    function_client,
    function_dynamodb,
    idempotency_items,
    make_invoker,
    table_items,
)
from tests.handler.faults import (
    DynamoFaults,
    Fault,
    cancelled,
    committed_then_lost,
    lost,
    refused,
    server_error,
    unreachable,
)
from users_api.api import UsersApi
from users_api.container import Container
from users_api.settings import Settings

NEW_USER = {"name": "Ada Lovelace", "email": "ada@example.com"}


@dataclass
class FaultyApi:
    invoke: Invoke
    faults: DynamoFaults


@pytest.fixture
def faulty(
    aws: None, settings: Settings, clock: FakeMonotonic, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., FaultyApi]:
    """The real API on moto, with faults planned per DynamoDB operation."""

    def build(*, honour_tokens: bool = True) -> FaultyApi:
        resource = function_dynamodb()
        faults = DynamoFaults(resource.meta.client, honour_tokens=honour_tokens)
        container = Container(
            settings,
            ssm_client_factory=lambda: function_client("ssm"),
            dynamodb_factory=lambda: resource,
            config_clock=clock,
            sleep=lambda _: None,
        )
        return FaultyApi(make_invoker(UsersApi(settings, container), monkeypatch), faults)

    return build


def keyed(key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return api_event("POST", "/users", body=body or NEW_USER, headers={"Idempotency-Key": key})


def stored_users() -> list[dict[str, Any]]:
    return sorted(table_items(), key=lambda item: str(item["createdAt"]))


# --- refused: nothing was written -> 503 ---------------------------------------------------

REFUSALS = {
    "throttled": refused("ProvisionedThroughputExceededException"),
    "request limit": refused("RequestLimitExceeded"),
    "never connected": unreachable(),
    "transaction conflict": cancelled("TransactionConflict", "None"),
    "service unavailable (503)": server_error("ServiceUnavailable", 503),
}


@pytest.mark.parametrize("fault", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_create_refused_on_every_attempt_answers_503_and_writes_nothing(
    faulty: Callable[..., FaultyApi], fault: Fault
) -> None:
    # Given DynamoDB refuses every attempt
    api = faulty()
    api.faults.always("PutItem", fault)
    api.faults.always("TransactWriteItems", fault)

    # When a client creates a user, with and without an Idempotency-Key
    plain = api.invoke(api_event("POST", "/users", body=NEW_USER))
    with_key = api.invoke(keyed("refused-1"))

    # Then both answer 503 with Retry-After, and nothing was written
    for response in (plain, with_key):
        assert response.status == 503, response.body
        assert response.body["code"] == "SERVICE_UNAVAILABLE"
        assert response.header("Retry-After")
    assert table_items() == idempotency_items() == []


@pytest.mark.parametrize("fault", REFUSALS.values(), ids=REFUSALS.keys())
def test_an_update_or_delete_refused_on_every_attempt_answers_503_and_changes_nothing(
    faulty: Callable[..., FaultyApi], fault: Fault
) -> None:
    # Given a stored user, and DynamoDB then refusing every write
    api = faulty()
    user = create_user(api.invoke)
    api.faults.always("UpdateItem", fault)
    api.faults.always("TransactWriteItems", fault)
    path = f"/users/{user['UserId']}"

    # When
    update = api.invoke(api_event("PUT", path, body={"name": "Changed"}))
    delete = api.invoke(api_event("DELETE", path))

    # Then
    assert (update.status, delete.status) == (503, 503)
    assert [item["name"] for item in table_items()] == ["Ada Lovelace"]
    assert table_items()[0]["version"] == 1


@pytest.mark.parametrize(
    "fault", [lost(), refused(), server_error()], ids=["lost", "throttled", "5xx"]
)
def test_a_read_that_never_succeeds_answers_503(
    faulty: Callable[..., FaultyApi], fault: Fault
) -> None:
    # Given reads always fail
    api = faulty()
    user = create_user(api.invoke)
    api.faults.always("GetItem", fault)
    api.faults.always("Scan", fault)

    # When / Then: a read writes nothing, so its outcome is never unknown
    for event in (api_event("GET", f"/users/{user['UserId']}"), api_event("GET", "/users")):
        response = api.invoke(event)
        assert response.status == 503, response.body
        assert response.body["code"] == "SERVICE_UNAVAILABLE"


def test_a_fault_that_clears_is_retried_inside_the_request(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given one throttled attempt and one lost answer before DynamoDB recovers
    api = faulty()
    api.faults.on("PutItem", refused(), lost())

    # When
    response = api.invoke(api_event("POST", "/users", body=NEW_USER))

    # Then the client never sees the faults
    assert response.status == 201
    assert len(table_items()) == 1
    assert api.faults.attempts.count("PutItem") == 3


# --- committed, then the answer was lost: the retry reports the success --------------------


def test_a_create_that_committed_before_its_answer_was_lost_answers_201_once(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given the first attempt is stored and its answer lost; the SDK-level retry then finds it
    api = faulty()
    api.faults.on("PutItem", committed_then_lost())

    # When
    response = api.invoke(api_event("POST", "/users", body=NEW_USER))

    # Then: 201, not 500, and exactly one user
    assert response.status == 201, response.body
    assert [item["UserId"] for item in table_items()] == [response.data["UserId"]]


@pytest.mark.parametrize("honour_tokens", [True, False], ids=["token honoured", "no token"])
def test_a_keyed_create_that_committed_before_its_answer_was_lost_answers_201_once(
    faulty: Callable[..., FaultyApi], honour_tokens: bool
) -> None:
    # Given the transaction committed and its answer was lost
    api = faulty(honour_tokens=honour_tokens)
    api.faults.on("TransactWriteItems", committed_then_lost())

    # When
    response = api.invoke(keyed("commit-then-timeout"))

    # Then the retry recognises its own write: 201, one user, one record
    assert response.status == 201, response.body
    assert "Idempotent-Replayed" not in response.raw["multiValueHeaders"]
    assert [item["UserId"] for item in table_items()] == [response.data["UserId"]]
    assert len(idempotency_items()) == 1


def test_an_update_that_committed_before_its_answer_was_lost_bumps_the_version_once(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given a user, and an update whose answer is lost after it was applied
    api = faulty()
    user = create_user(api.invoke)
    api.faults.on("UpdateItem", committed_then_lost())

    # When the update carries If-Match (a naive retry would answer 412)
    response = api.invoke(
        api_event(
            "PUT", f"/users/{user['UserId']}", body={"name": "Ada K."}, headers={"If-Match": '"1"'}
        )
    )

    # Then it answers the committed result
    assert response.status == 200, response.body
    assert (response.data["name"], response.data["version"]) == ("Ada K.", 2)
    assert response.header("ETag") == '"2"'
    assert table_items()[0]["version"] == 2


def test_an_update_without_if_match_is_never_applied_twice(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given an update whose answer is lost after it was applied (a naive retry would bump twice)
    api = faulty()
    user = create_user(api.invoke)
    api.faults.on("UpdateItem", committed_then_lost())

    # When
    response = api.invoke(api_event("PUT", f"/users/{user['UserId']}", body={"name": "Ada K."}))

    # Then
    assert response.status == 200
    assert response.data["version"] == table_items()[0]["version"] == 2


def test_a_delete_that_committed_before_its_answer_was_lost_answers_200(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given DynamoDB honours the transaction's ClientRequestToken, as it does on AWS
    api = faulty(honour_tokens=True)
    user = create_user(api.invoke)
    api.faults.on("TransactWriteItems", committed_then_lost())

    # When
    response = api.invoke(api_event("DELETE", f"/users/{user['UserId']}"))

    # Then: 200, not 404
    assert response.status == 200, response.body
    assert table_items() == []


def test_a_delete_whose_retry_cannot_tell_answers_504_never_404(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given a store that ignores ClientRequestToken: the retry finds the user gone and cannot
    # tell whether its own first attempt removed it
    api = faulty(honour_tokens=False)
    user = create_user(api.invoke)
    api.faults.on("TransactWriteItems", committed_then_lost())

    # When
    response = api.invoke(api_event("DELETE", f"/users/{user['UserId']}"))

    # Then the answer says the outcome is unknown, and how to find out
    assert response.status == 504
    assert response.body["code"] == "DEPENDENCY_TIMEOUT"
    assert response.header("Retry-After")
    assert "re-read" in response.body["error"]


def test_an_update_retried_after_another_writer_answers_504_never_412(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given our update's first answer is lost, and another client updates the user before our
    # retry (simulated: the retry's attempt sees a newer version with another token)
    api = faulty()
    user = create_user(api.invoke)
    path = f"/users/{user['UserId']}"
    api.faults.on("UpdateItem", lost())
    other = boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME)
    other.update_item(
        Key={"UserId": user["UserId"]},
        UpdateExpression="SET version = :v, writeToken = :t",
        ExpressionAttributeValues={":v": 7, ":t": "another-writer"},
    )

    # When our update (If-Match "1") is retried
    response = api.invoke(api_event("PUT", path, body={"name": "X"}, headers={"If-Match": '"1"'}))

    # Then it cannot prove its own outcome: 504, never 412
    assert response.status == 504
    assert response.body["code"] == "DEPENDENCY_TIMEOUT"


# --- unconfirmed to the end -> 504, and a retry with the key leaves exactly one user --------


def test_a_create_never_confirmed_answers_504_and_a_keyed_retry_leaves_one_user(
    faulty: Callable[..., FaultyApi], captured_logs: io.StringIO
) -> None:
    # Given the first attempt commits and every answer is lost
    api = faulty(honour_tokens=False)
    api.faults.on("TransactWriteItems", committed_then_lost(), *[lost()] * 10)

    # When
    first = api.invoke(keyed("stalled-1"))

    # Then the client is told the outcome is unknown, and how to retry
    assert first.status == 504
    assert first.body["code"] == "DEPENDENCY_TIMEOUT"
    assert first.header("Retry-After")
    assert "Idempotency-Key" in first.body["error"]
    assert '"outcome":"unknown"' in captured_logs.getvalue()

    # And when DynamoDB answers again and the client retries with the same key
    api.faults.clear()
    retry = api.invoke(keyed("stalled-1"))

    # Then it replays the one user that was stored
    assert retry.status == 200
    assert retry.header("Idempotent-Replayed") == "true"
    assert [item["UserId"] for item in table_items()] == [retry.data["UserId"]]


@pytest.mark.parametrize(
    "fault",
    [lost(), server_error(), server_error("InternalError", 500)],
    ids=["lost", "InternalServerError", "another 500"],
)
def test_writes_never_confirmed_answer_504(faulty: Callable[..., FaultyApi], fault: Fault) -> None:
    # Given a user, and DynamoDB never confirming a write
    api = faulty()
    user = create_user(api.invoke)
    for operation in ("PutItem", "UpdateItem", "TransactWriteItems"):
        api.faults.always(operation, fault)
    path = f"/users/{user['UserId']}"

    # When / Then every kind of write answers 504
    for event in (
        api_event("POST", "/users", body=NEW_USER),
        keyed("unconfirmed"),
        api_event("PUT", path, body={"name": "B"}),
        api_event("DELETE", path),
    ):
        response = api.invoke(event)
        assert response.status == 504, (event["httpMethod"], response.body)
        assert response.body["code"] == "DEPENDENCY_TIMEOUT"
        assert response.header("Retry-After")


# --- same-key races ------------------------------------------------------------------------


def test_a_same_key_loser_of_a_transaction_conflict_replays_the_winner(
    faulty: Callable[..., FaultyApi], captured_logs: io.StringIO
) -> None:
    # Given one request with the key has created the user, and a racing one's first attempt
    # collides with that transaction
    api = faulty()
    winner = api.invoke(keyed("race-1"))
    api.faults.on("TransactWriteItems", cancelled("None", "TransactionConflict"))

    # When the racing request runs
    loser = api.invoke(keyed("race-1"))

    # Then it answers the same user, never 503, and logs nothing at ERROR
    assert (winner.status, loser.status) == (201, 200)
    assert loser.data["UserId"] == winner.data["UserId"]
    assert len(table_items()) == 1
    assert '"level":"ERROR"' not in captured_logs.getvalue()


def test_same_key_with_email_in_another_case_is_the_same_request(
    faulty: Callable[..., FaultyApi],
) -> None:
    # Given a keyed create
    api = faulty()
    first = api.invoke(keyed("case-1", {"name": "Ada", "email": "Ada@Example.com"}))

    # When it is repeated with the email in another case
    second = api.invoke(keyed("case-1", {"name": "Ada", "email": "ada@example.COM"}))

    # Then it is a replay (the contract compares emails case-insensitively), not a 409
    assert (first.status, second.status) == (201, 200)
    assert second.data["UserId"] == first.data["UserId"]
