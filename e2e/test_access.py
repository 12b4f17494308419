"""Access on the deployed stack: each method's authorization, the callers' policies, the
resource policy and the execution log group, as LocalStack holds them.

LocalStack's community edition enforces neither IAM nor Cognito authorization on API
Gateway: it serves unsigned requests, and it does not evaluate the resource policy. The
client signs anyway (what users copy is the real path), refusal is proven by the CDK
assertions in tests/infra and, after a deploy to AWS, by scripts/smoke.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from e2e.api_client import Api, assert_error, assert_success, declared_authorization
from e2e.harness.deploy import ACCOUNT, REGION
from e2e.harness.deployment import Deployment
from infra.names import ENSURED_LOG_GROUP_TYPE, OutputKeys


def deployed_authorization(aws: Any, rest_api_id: str) -> dict[str, str]:
    apigateway = aws("apigateway")
    table = {}
    for resource in apigateway.get_resources(restApiId=rest_api_id, limit=500)["items"]:
        for method in resource.get("resourceMethods", {}):
            live = apigateway.get_method(
                restApiId=rest_api_id, resourceId=resource["id"], httpMethod=method
            )
            table[f"{method} {resource['path']}"] = live["authorizationType"]
    return table


def test_every_deployed_methods_authorization_equals_the_templates(
    aws: Any, deployment: Deployment
) -> None:
    # Given the methods the template declares and the ones API Gateway holds
    declared = declared_authorization(deployment.template)
    live = deployed_authorization(aws, deployment.outputs[OutputKeys.REST_API_ID])
    # Then they are the same methods, each authorized the same way
    assert live == declared
    # And only health and the preflights are anonymous
    assert {route for route, kind in live.items() if kind == "NONE"} == {
        "GET /",
        "OPTIONS /",
        "OPTIONS /users",
        "OPTIONS /users/{userId}",
    }


def test_a_signed_caller_reads_and_writes(api: Api) -> None:
    user = api.create_user()
    fetched = assert_success(api.request("GET", f"/users/{user['UserId']}"), 200)
    assert fetched["UserId"] == user["UserId"]
    assert_success(api.request("DELETE", f"/users/{user['UserId']}"), 200)


def test_localstack_serves_unsigned_calls_so_refusal_is_proven_elsewhere(api: Api) -> None:
    # LocalStack community does not enforce AWS_IAM: an unsigned call is served. On AWS it
    # answers 403 FORBIDDEN (scripts/smoke.py checks it). If this fails, LocalStack started
    # enforcing: prove the refusal here instead, and update docs/access.md.
    response = api.unsigned("GET", f"/users/{uuid.uuid4()}")
    assert_error(response, 404, "USER_NOT_FOUND")


def test_health_and_preflight_need_no_credentials_and_carry_a_request_id(api: Api) -> None:
    health = api.unsigned("GET", "/")
    assert health.status_code == 200, health.text
    preflight = api.unsigned(
        "OPTIONS",
        "/users/some-id",
        headers={"Origin": "https://client.example", "Access-Control-Request-Method": "PUT"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,PUT,DELETE,OPTIONS"
    # API Gateway answers the preflight itself, and names it like every other answer.
    assert preflight.headers["X-Request-Id"]


def method_arn(deployment: Deployment, method: str, path: str) -> str:
    rest_api_id = deployment.outputs[OutputKeys.REST_API_ID]
    stage = deployment.outputs[OutputKeys.STAGE_NAME]
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{rest_api_id}/{stage}/{method}{path}"


def policy_resources(aws: Any, policy_arn: str) -> set[str]:
    iam = aws("iam")
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]
    (statement,) = document["Document"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    resources = statement["Resource"]
    return {resources} if isinstance(resources, str) else set(resources)


def test_the_callers_policies_name_exactly_the_stages_method_arns(
    aws: Any, deployment: Deployment
) -> None:
    read_only = policy_resources(aws, deployment.outputs[OutputKeys.READ_ONLY_POLICY_ARN])
    read_write = policy_resources(aws, deployment.outputs[OutputKeys.READ_WRITE_POLICY_ARN])
    assert read_only == {
        method_arn(deployment, "GET", "/users"),
        method_arn(deployment, "GET", "/users/*"),
    }
    assert read_write == read_only | {
        method_arn(deployment, "POST", "/users"),
        method_arn(deployment, "PUT", "/users/*"),
        method_arn(deployment, "DELETE", "/users/*"),
    }


def test_the_resource_policy_is_attached(aws: Any, deployment: Deployment) -> None:
    api = aws("apigateway").get_rest_api(restApiId=deployment.outputs[OutputKeys.REST_API_ID])
    # API Gateway returns the policy as escaped JSON.
    policy = json.loads(api["policy"].replace('\\"', '"'))
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert sids == ["AnonymousHealthAndPreflight", "AdmittedAccounts", "DenyEveryoneElse"]
    admitted = policy["Statement"][1]["Principal"]["AWS"]
    assert admitted == f"arn:aws:iam::{ACCOUNT}:root"


def test_the_execution_log_group_is_a_resource_of_the_stack(
    aws: Any, deployment: Deployment
) -> None:
    # The stack holds API Gateway's execution log group through its custom resource
    # (infra/ensured_log_group.py), never as an AWS::Logs::LogGroup of that name, which fails
    # with "already exists" where API Gateway created the group first.
    (logical_id,) = deployment.resources_of_type(ENSURED_LOG_GROUP_TYPE)
    resources = aws("cloudformation").describe_stack_resources(StackName=deployment.stack_name)
    statuses = {r["LogicalResourceId"]: r["ResourceStatus"] for r in resources["StackResources"]}
    assert statuses[logical_id] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    # LocalStack's community CloudFormation calls no custom resource provider (it records
    # Custom:: types as deployed and does nothing), so the group, its retention and tags are
    # asserted in tests/infra (the template) and tests/log_group_provider (the provider).
