"""The truth under faults, end to end: DynamoDB Local stalled (SIGSTOP) and killed under the
deployed API: its process on the host (host mode), or inside LocalStack's container (Docker mode).

Run last (marker ``disruptive``): the other tests never see the faults.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from e2e.api_client import Api, assert_error, assert_success, eventually, new_user
from e2e.faults import ContainerProcess, HostProcess, Process, dynamodb_local_pid, kill, stalled
from e2e.harness.deployment import Deployment
from e2e.harness.host import HostLocalStack
from e2e.harness.session import LocalStack
from infra.names import RESERVED_CONCURRENCY, OutputKeys

pytestmark = pytest.mark.disruptive

# API Gateway gives up on an integration after 29 s: every answer must come before.
INTEGRATION_TIMEOUT = 29.0


@pytest.fixture
def dynamodb_local(localstack: LocalStack) -> Process:
    if isinstance(localstack, HostLocalStack):
        return HostProcess(dynamodb_local_pid(localstack.pid))
    container = getattr(localstack, "container", None)
    if container is not None:
        return ContainerProcess.dynamodb_local(container())
    pytest.skip(
        "fault injection needs a LocalStack this session started (host or docker mode): "
        "an external LocalStack's processes are not the suite's to stop"
    )


def users_by_email(aws: Any, deployment: Deployment, email: str) -> list[dict[str, Any]]:
    table = deployment.outputs[OutputKeys.TABLE_NAME]
    response = aws("dynamodb").scan(
        TableName=table,
        ConsistentRead=True,
        FilterExpression="email = :email",
        ExpressionAttributeValues={":email": {"S": email}},
    )
    return list(response["Items"])


def timed(send: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def test_a_stall_answers_503_or_504_in_time_and_the_truth_afterwards(
    api: Api, aws: Any, deployment: Deployment, dynamodb_local: Process
) -> None:
    # Given two users, and a set of writes prepared: keyed creates, an update and a delete
    to_update = api.create_user()
    to_delete = api.create_user()
    creates = [(f"stall-{uuid.uuid4().hex}", new_user()) for _ in range(3)]
    writes = [
        lambda key=key, body=body: api.request(
            "POST", "/users", json=body, headers={"Idempotency-Key": key}
        )
        for key, body in creates
    ] + [
        lambda: api.request(
            "PUT",
            f"/users/{to_update['UserId']}",
            json={"name": "Changed in a stall"},
            headers={"If-Match": '"1"'},
        ),
        lambda: api.request("DELETE", f"/users/{to_delete['UserId']}"),
    ]
    assert len(writes) <= RESERVED_CONCURRENCY  # none is shed by the concurrency limit

    # When DynamoDB freezes while they arrive, and then wakes up
    with stalled(dynamodb_local), ThreadPoolExecutor(len(writes)) as pool:
        answers = list(pool.map(timed, writes))
    resumed = time.monotonic()
    healthy = eventually(lambda: api.request("GET", "/").status_code == 200, timeout=30)
    recovery = time.monotonic() - resumed

    # Then every write answered a JSON 503 or 504 in the envelope, in time
    statuses = Counter(response.status_code for response, _ in answers)
    durations = sorted(round(elapsed, 1) for _, elapsed in answers)
    print(
        f"\nstall: statuses {dict(statuses)}, seconds {durations}, healthy after {recovery:.1f} s"
    )
    for response, elapsed in answers:
        assert response.status_code in (503, 504), response.text
        code = "SERVICE_UNAVAILABLE" if response.status_code == 503 else "DEPENDENCY_TIMEOUT"
        assert_error(response, response.status_code, code)
        assert response.headers.get("Retry-After")
        assert elapsed < INTEGRATION_TIMEOUT
    assert healthy, "the API did not become healthy again after the stall"

    # And nothing answered 503 was applied; a 504 create retried with its key leaves one user
    create_answers = [response for response, _ in answers[: len(creates)]]
    for (key, body), response in zip(creates, create_answers, strict=True):
        if response.status_code == 503:
            assert users_by_email(aws, deployment, body["email"]) == []
            continue
        retry = api.request("POST", "/users", json=body, headers={"Idempotency-Key": key})
        assert retry.status_code in (200, 201), retry.text
        assert len(users_by_email(aws, deployment, body["email"])) == 1
    update_answer, delete_answer = (response for response, _ in answers[len(creates) :])
    current = api.request("GET", f"/users/{to_update['UserId']}").json()["data"]
    if update_answer.status_code == 503:
        assert current["version"] == 1
    assert current["version"] in (1, 2)  # applied at most once
    if delete_answer.status_code == 503:
        assert api.request("GET", f"/users/{to_delete['UserId']}").status_code == 200


def test_with_dynamodb_killed_writes_answer_in_the_envelope_and_health_recovers(
    api: Api, aws: Any, deployment: Deployment, dynamodb_local: Process
) -> None:
    # Given a healthy API
    assert api.request("GET", "/").status_code == 200
    body = new_user()

    # When DynamoDB Local is killed (LocalStack starts it again on its own)
    kill(dynamodb_local)
    create, create_seconds = timed(lambda: api.request("POST", "/users", json=body))
    health = api.request("GET", "/")
    healthy = eventually(lambda: api.request("GET", "/").status_code == 200, timeout=60)

    # Then the write answered the truth in the envelope: created, refused or unknown
    print(f"\nkilled: create {create.status_code} in {create_seconds:.1f} s", end=", ")
    print(f"health {health.status_code}")
    assert create.status_code in (201, 503, 504), create.text
    stored = users_by_email(aws, deployment, body["email"]) if healthy else []
    if create.status_code == 201:
        assert_success(create, 201)
    else:
        code = "SERVICE_UNAVAILABLE" if create.status_code == 503 else "DEPENDENCY_TIMEOUT"
        assert_error(create, create.status_code, code)
        if create.status_code == 503:
            assert stored == []
    # And health said degraded while DynamoDB was down, and healthy once it was back
    if health.status_code != 200:
        assert_error(health, 503, "SERVICE_UNAVAILABLE")
        assert health.json()["data"]["status"] == "degraded"
    assert healthy
