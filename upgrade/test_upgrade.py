"""Deploying the working tree over an earlier release keeps the service, its addresses and the
data that release wrote (see upgrade/conftest.py for how each release is set up)."""

from __future__ import annotations

from typing import Any

from e2e.api_client import assert_error, assert_success
from e2e.harness.deploy import rollback_report, stack_status
from infra.names import OutputKeys
from upgrade.conftest import KEPT_RESOURCE_TYPES, Upgrade, stack_resources
from upgrade.failing_update import update_that_fails


def all_listed(upgrade: Upgrade) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    query: dict[str, str] = {"limit": "2"}
    while True:
        page = assert_success(upgrade.api.request("GET", "/users", params=query), 200)
        assert page["users"], "a page is never empty"
        listed += page["users"]
        if "nextToken" not in page:
            return listed
        query = {**query, "nextToken": page["nextToken"]}


def test_the_update_completes(upgrade: Upgrade) -> None:
    status = stack_status(upgrade.localstack.endpoint, upgrade.deployment.stack_name)

    assert status == "UPDATE_COMPLETE"


def test_the_api_address_and_every_stateful_resource_keep_their_physical_ids(
    upgrade: Upgrade,
) -> None:
    # Given the resources the release deployed
    before = {
        logical_id: physical_id
        for logical_id, (kind, physical_id) in upgrade.old_resources.items()
        if kind in KEPT_RESOURCE_TYPES
    }
    assert any(kind == "AWS::DynamoDB::Table" for kind, _ in upgrade.old_resources.values())

    # When the working tree is deployed over it
    after = stack_resources(upgrade.localstack.endpoint, upgrade.deployment.stack_name)

    # Then each one is still there, the same resource
    assert {logical_id: after[logical_id][1] for logical_id in before} == before
    assert upgrade.deployment.outputs[OutputKeys.API_URL] == upgrade.old_outputs["ApiUrl"]


def test_every_user_reads_back_with_the_same_fields_version_and_etag(upgrade: Upgrade) -> None:
    for user_id, stored in upgrade.data.users.items():
        response = upgrade.api.request("GET", f"/users/{user_id}")

        assert assert_success(response, 200) == stored.body
        assert response.headers["ETag"] == stored.etag


def test_the_list_is_exactly_the_users_and_nothing_else(upgrade: Upgrade) -> None:
    listed = all_listed(upgrade)

    assert sorted(user["UserId"] for user in listed) == sorted(upgrade.data.users)
    assert {user["UserId"]: user for user in listed} == {
        user_id: stored.body for user_id, stored in upgrade.data.users.items()
    }


def test_an_old_idempotency_key_replays_its_user_and_creates_nothing(upgrade: Upgrade) -> None:
    keyed = upgrade.data.kept_key
    assert keyed is not None

    replay = upgrade.api.request(
        "POST", "/users", json=keyed.request, headers={"Idempotency-Key": keyed.key}
    )

    assert assert_success(replay, 200)["UserId"] == keyed.user_id
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(all_listed(upgrade)) == len(upgrade.data.users)


def test_an_old_key_whose_user_was_deleted_answers_410_and_creates_nothing(
    upgrade: Upgrade,
) -> None:
    keyed = upgrade.data.deleted_key
    assert keyed is not None

    repeat = upgrade.api.request(
        "POST", "/users", json=keyed.request, headers={"Idempotency-Key": keyed.key}
    )

    assert_error(repeat, 410, "USER_DELETED")
    assert len(all_listed(upgrade)) == len(upgrade.data.users)


def test_if_match_with_an_etag_from_before_the_upgrade_works(upgrade: Upgrade) -> None:
    # Given a user and the ETag the earlier release gave for it
    user_id, stored = next(iter(upgrade.data.users.items()))

    # When it is updated with that ETag, then with the same one again
    updated = upgrade.api.request(
        "PUT",
        f"/users/{user_id}",
        json={"address": "1 Rue de Lyon"},
        headers={"If-Match": stored.etag},
    )
    stale = upgrade.api.request(
        "PUT",
        f"/users/{user_id}",
        json={"address": "2 Rue de Nice"},
        headers={"If-Match": stored.etag},
    )

    # Then the first applies on top of the old version and the second is refused
    assert assert_success(updated, 200)["version"] == stored.body["version"] + 1
    assert_error(stale, 412, "PRECONDITION_FAILED")
    upgrade.data.users[user_id].body = upgrade.api.request("GET", f"/users/{user_id}").json()[
        "data"
    ]


def test_a_failed_update_is_rolled_back_and_the_release_keeps_serving(upgrade: Upgrade) -> None:
    # Given the upgraded stack serving its users
    user_id = next(iter(upgrade.data.users))

    # When an update fails half-way (a resource that cannot be created)
    outcome = update_that_fails(upgrade.localstack.endpoint, upgrade.deployment.stack_name)

    # Then CloudFormation rolls it back (AWS: UPDATE_ROLLBACK_COMPLETE; LocalStack reports
    # ROLLBACK_COMPLETE), the API still answers from the same address, and the harness says so
    assert outcome.status in ("UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE"), outcome
    assert "Attribute Definitions" in outcome.reason, outcome  # DynamoDB's own refusal
    assert_success(upgrade.api.request("GET", f"/users/{user_id}"), 200)
    report = rollback_report(
        upgrade.localstack.endpoint, upgrade.deployment.stack_name, updating=True
    )
    assert report is not None
    assert "the release before it still answers at" in report
