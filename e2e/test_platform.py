"""What the stack promises beyond the API: encryption, run-time config, the concurrency
limit, logs without personal data, and the deployed permissions."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import requests

from e2e.api_client import (
    Api,
    assert_error,
    assert_success,
    eventually,
    log_messages,
    new_user,
)
from e2e.harness.deploy import CONFIG_TTL_SECONDS
from e2e.harness.deployment import Deployment
from infra.names import RESERVED_CONCURRENCY, OutputKeys
from users_api import definitions

# --- KMS -------------------------------------------------------------------------------


def test_table_is_encrypted_with_the_stacks_rotating_key(aws: Any, deployment: Deployment) -> None:
    key_arn = deployment.outputs[OutputKeys.KEY_ARN]
    table = aws("dynamodb").describe_table(TableName=deployment.outputs[OutputKeys.TABLE_NAME])
    sse = table["Table"]["SSEDescription"]
    assert (sse["Status"], sse["SSEType"], sse["KMSMasterKeyArn"]) == ("ENABLED", "KMS", key_arn)
    key = aws("kms").describe_key(KeyId=key_arn)["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert aws("kms").get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True


# --- SSM: configuration read at run time -------------------------------------------------


def test_changed_page_sizes_apply_after_the_ttl_without_a_redeploy(
    api: Api, aws: Any, deployment: Deployment
) -> None:
    ssm = aws("ssm")
    path = deployment.outputs[OutputKeys.PARAMETER_PATH]
    max_name = f"{path}/{definitions.PARAMETER_MAX_PAGE_SIZE}"
    default_name = f"{path}/{definitions.PARAMETER_DEFAULT_PAGE_SIZE}"
    original = {
        name: ssm.get_parameter(Name=name)["Parameter"]["Value"]
        for name in (max_name, default_name)
    }
    for _ in range(3):
        api.create_user()
    assert_success(api.request("GET", "/users", params={"limit": 3}), 200)
    try:
        # When an operator lowers the page sizes in Parameter Store
        ssm.put_parameter(Name=max_name, Value="2", Overwrite=True)
        ssm.put_parameter(Name=default_name, Value="1", Overwrite=True)
        # Then, once the cached values expire, the function enforces the new ones
        assert eventually(
            lambda: api.request("GET", "/users", params={"limit": 3}).status_code == 400,
            timeout=CONFIG_TTL_SECONDS + 10,
        )
        assert_error(api.request("GET", "/users", params={"limit": 3}), 400, "INVALID_QUERY")
        page = assert_success(api.request("GET", "/users"), 200)
        assert page["count"] == 1
        assert "nextToken" in page
    finally:
        for name, value in original.items():
            ssm.put_parameter(Name=name, Value=value, Overwrite=True)
    assert eventually(
        lambda: api.request("GET", "/users", params={"limit": 3}).status_code == 200,
        timeout=CONFIG_TTL_SECONDS + 10,
    )


# --- The concurrency limit ----------------------------------------------------------------


def test_reserved_concurrency_is_the_templates_five(aws: Any, deployment: Deployment) -> None:
    # The harness's parity step applied the template's value (LocalStack's CloudFormation
    # drops it); this proves the live function carries exactly that limit.
    live = aws("lambda").get_function_concurrency(FunctionName=deployment.function_name)
    assert deployment.declared_reserved_concurrency == RESERVED_CONCURRENCY == 5
    assert live["ReservedConcurrentExecutions"] == RESERVED_CONCURRENCY


SHED_STATUSES = {429, 503}
BURST = 24


def test_requests_beyond_the_limit_are_shed_as_json_and_no_accepted_write_is_lost(
    api: Api, aws: Any, deployment: Deployment
) -> None:
    # Given many more simultaneous creations than the function may run at once
    def create(marker: str, barrier: Barrier) -> tuple[str, requests.Response]:
        barrier.wait()
        return marker, api.request("POST", "/users", json=new_user(name=f"Burst {marker}"))

    results: list[tuple[str, requests.Response]] = []
    for _ in range(3):  # a burst can, rarely, fit through; a few bursts always overflow
        barrier = Barrier(BURST)
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            futures = [pool.submit(create, uuid.uuid4().hex[:8], barrier) for _ in range(BURST)]
            results += [future.result() for future in futures]
        if any(response.status_code in SHED_STATUSES for _, response in results):
            break
    statuses = Counter(response.status_code for _, response in results)
    print(f"\nstatus codes of {len(results)} concurrent creations: {dict(statuses)}")

    # Then every answer is either a creation or a retryable JSON refusal, never a 500/502
    assert set(statuses) <= {201} | SHED_STATUSES, statuses
    assert statuses[201] > 0
    assert sum(statuses[s] for s in SHED_STATUSES) > 0, "the limit was never reached"
    for _, response in results:
        if response.status_code in SHED_STATUSES:
            # LocalStack answers with its own fixed JSON body and no Retry-After (AWS sends
            # the stack's Gateway Response with both); either way a JSON body.
            assert response.headers["Content-Type"].startswith("application/json")
            assert isinstance(response.json(), dict)
    # And every accepted write is in the table
    table = deployment.outputs[OutputKeys.TABLE_NAME]
    for _, response in results:
        if response.status_code == 201:
            user_id = response.json()["data"]["UserId"]
            item = aws("dynamodb").get_item(TableName=table, Key={"UserId": {"S": user_id}})
            assert "Item" in item


# --- Logs ---------------------------------------------------------------------------------


def test_log_lines_carry_the_request_id_and_no_personal_data(
    api: Api, aws: Any, deployment: Deployment
) -> None:
    # Given a request carrying personal data
    body = new_user(phone="+1 (555) 010-9999", address="1 Secret Lane")
    response = api.request("POST", "/users", json=body)
    assert response.status_code == 201
    request_id = response.headers["X-Request-Id"]
    log_group = f"/aws/lambda/{deployment.function_name}"

    # When the function's log group is read
    def lines() -> list[str]:
        return log_messages(aws, log_group)

    assert eventually(lambda: any(request_id in line for line in lines()), timeout=15)
    # Then the request's lines are structured JSON naming the request id
    trail = [json.loads(line) for line in lines() if request_id in line and line.startswith("{")]
    assert trail
    assert all(entry.get("correlation_id") == request_id for entry in trail)
    # And no line anywhere holds the user's personal data
    everything = "\n".join(lines())
    for value in (body["email"], body["name"], body["phone"], body["address"]):
        assert value not in everything


# --- IAM ----------------------------------------------------------------------------------


def template_role_actions(deployment: Deployment, role_logical_id: str) -> list[tuple[str, ...]]:
    actions = []
    for policy in deployment.resources_of_type("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            actions.append(tuple(sorted([action] if isinstance(action, str) else action)))
    return sorted(actions)


def test_deployed_role_policies_equal_the_templates(aws: Any, deployment: Deployment) -> None:
    # Given the function's deployed role
    role_arn = aws("lambda").get_function_configuration(FunctionName=deployment.function_name)[
        "Role"
    ]
    role_name = role_arn.rsplit("/", 1)[-1]
    resources = aws("cloudformation").describe_stack_resources(StackName=deployment.stack_name)
    (role_logical_id,) = [
        r["LogicalResourceId"]
        for r in resources["StackResources"]
        if r["ResourceType"] == "AWS::IAM::Role" and r["PhysicalResourceId"] == role_name
    ]
    iam = aws("iam")
    # When its live policies are read back
    live_statements = [
        statement
        for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        for statement in iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)[
            "PolicyDocument"
        ]["Statement"]
    ]
    live_actions = sorted(
        tuple(sorted([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
        for s in live_statements
    )
    # Then they grant exactly the template's actions, with no managed policy besides
    assert live_actions == template_role_actions(deployment, role_logical_id)
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    # And every resource is concrete: only X-Ray's is a wildcard
    for statement in live_statements:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if any(action.startswith("xray:") for action in statement["Action"]):
            assert resources == ["*"]
        else:
            # A log group's ARN ends in `:*`, its streams; nothing else may hold a wildcard.
            assert all(
                r.startswith("arn:aws:") and "*" not in r.removesuffix(":*") for r in resources
            )
