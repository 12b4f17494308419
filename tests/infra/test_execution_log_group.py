"""API Gateway's execution log group: ensured by the stack's own Python custom resource.

The provider's behaviour is tested over moto in tests/log_group_provider; here, what the
template asks of it, who may do what, and the one-release placeholder of the old logical id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from infra.ensured_log_group import GROUP_ACTIONS, PROVIDER_DIR
from infra.names import ENSURED_LOG_GROUP_TYPE
from infra.settings import ENVIRONMENTS
from infra.stack import UsersApiStack
from tests.infra.conftest import only_resource
from tests.infra.test_iam import normalised

# The logical id the previous release owned the group under (an AWS::Logs::LogGroup).
PREVIOUS_LOGICAL_ID = "ApiExecutionLogsB326CF6B"
RETENTION_DAYS = {"dev": 7, "prod": 90}


def resources(template: Template) -> dict[str, dict[str, Any]]:
    return dict(template.to_json()["Resources"])


def ensured(template: Template) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = template.find_resources(ENSURED_LOG_GROUP_TYPE).items()
    return logical_id, dict(resource)


def test_the_group_is_ensured_with_the_environments_retention_tags_and_policy(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the environment's settings
    settings = ENVIRONMENTS[environment]
    rest_api = stack.resolve(stack.api.rest_api.rest_api_id)
    provider_id = stack.get_logical_id(stack.api.execution_log_group.provider.node.default_child)  # type: ignore[arg-type]
    # When the custom resource is read from the template
    _, resource = ensured(template)
    # Then it names API Gateway's group for this stage and carries the environment's choices
    assert resource["Properties"] == {
        "ServiceToken": {"Fn::GetAtt": [provider_id, "Arn"]},
        "ServiceTimeout": "300",
        "LogGroupName": {
            "Fn::Join": ["", ["API-Gateway-Execution-Logs_", rest_api, f"/{environment}"]]
        },
        "RetentionInDays": RETENTION_DAYS[environment],
        "Tags": {"service": "users-api", "environment": environment},
        "RemovalPolicy": "retain" if settings.retain_data else "destroy",
    }
    # CloudFormation always asks the provider on delete; the provider honours the policy.
    assert resource["DeletionPolicy"] == "Delete"


def test_the_stage_waits_for_the_group(template: Template) -> None:
    # API Gateway would otherwise create the group first, unowned and unexpiring.
    logical_id, _ = ensured(template)
    stage = only_resource(template, "AWS::ApiGateway::Stage")
    assert logical_id in stage["DependsOn"]


def test_the_provider_waits_for_its_permissions(template: Template) -> None:
    _, resource = ensured(template)
    policies = template.find_resources("AWS::IAM::Policy")
    assert any(policy in resource["DependsOn"] for policy in policies)


def test_the_providers_role_may_touch_that_one_group_and_its_own_logs(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the provider's role and the group's ARN in both forms
    group = stack.api.execution_log_group
    role_ref = stack.resolve(group.role.role_name)
    arn = stack.resolve(group.group_arns[0])
    own_logs = stack.resolve(group.provider_log_group.log_group_arn)
    # When its statements are read from the template
    (policy,) = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [role_ref]}}
    ).values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    # Then they are exactly these
    arn_any = {"Fn::Join": ["", [*arn["Fn::Join"][1][:-1], f"{arn['Fn::Join'][1][-1]}:*"]]}
    expected = [
        {"Effect": "Allow", "Action": sorted(GROUP_ACTIONS), "Resource": [arn, arn_any]},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": own_logs,
        },
    ]
    assert sorted(map(normalised, statements)) == sorted(map(normalised, expected))
    assert arn["Fn::Join"][1][-1] == f"/{environment}"
    assert GROUP_ACTIONS == [
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:TagLogGroup",
        "logs:TagResource",
    ]
    # And the role has no managed policy to widen them
    role_id = stack.get_logical_id(group.role.node.default_child)  # type: ignore[arg-type]
    assert "ManagedPolicyArns" not in resources(template)[role_id]["Properties"]


def test_the_provider_is_python_with_its_own_expiring_log_group(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    group = stack.api.execution_log_group
    function_id = stack.get_logical_id(group.provider.node.default_child)  # type: ignore[arg-type]
    logs_id = stack.get_logical_id(group.provider_log_group.node.default_child)  # type: ignore[arg-type]
    function = resources(template)[function_id]["Properties"]
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == "handler.on_event"
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": logs_id}
    retention = resources(template)[logs_id]["Properties"]["RetentionInDays"]
    assert retention == RETENTION_DAYS[environment]


def test_the_providers_bundle_is_its_handler_alone(
    stack: UsersApiStack, template: Template
) -> None:
    # Given the provider's asset in the synthesized assembly
    group = stack.api.execution_log_group
    function_id = stack.get_logical_id(group.provider.node.default_child)  # type: ignore[arg-type]
    key = resources(template)[function_id]["Properties"]["Code"]["S3Key"]
    outdir = Path(stack.node.root.outdir)  # type: ignore[attr-defined]
    asset = outdir / f"asset.{key.removesuffix('.zip')}"
    # Then it holds the handler and nothing else (no CDK app, no users function)
    assert sorted(p.name for p in asset.iterdir()) == ["handler.py"]
    assert (asset / "handler.py").read_bytes() == (PROVIDER_DIR / "handler.py").read_bytes()


def test_the_previous_logical_id_stays_one_release_as_an_empty_group_that_retains_the_old(
    template: Template,
) -> None:
    # Given the logical id the previous release owned the group under
    placeholder = resources(template)[PREVIOUS_LOGICAL_ID]
    # Then it is a log group without a fixed name: on an upgrade CloudFormation replaces it,
    # and the replaced physical group (the real one, now adopted) is retained, not deleted
    assert placeholder["Type"] == "AWS::Logs::LogGroup"
    assert "LogGroupName" not in placeholder["Properties"]
    assert placeholder["UpdateReplacePolicy"] == "Retain"
    # Itself empty, it may go with the stack
    assert placeholder["DeletionPolicy"] == "Delete"


def test_no_log_group_resource_names_the_execution_log_group(template: Template) -> None:
    # An AWS::Logs::LogGroup with that name fails with "already exists" where API Gateway
    # created the group first (stacks of a release that did not own it).
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert "API-Gateway-Execution-Logs_" not in str(group["Properties"])


def test_the_only_resource_level_checkov_skip_is_the_providers_concurrency(
    stack: UsersApiStack, template: Template
) -> None:
    # Given every resource that carries checkov metadata
    skipping = {
        logical_id: resource["Metadata"]["checkov"]["skip"]
        for logical_id, resource in resources(template).items()
        if "checkov" in resource.get("Metadata", {})
    }
    # Then it is the provider alone, skipping the reserved-concurrency check with a reason
    provider_id = stack.get_logical_id(stack.api.execution_log_group.provider.node.default_child)  # type: ignore[arg-type]
    assert list(skipping) == [provider_id]
    ((skip),) = skipping[provider_id]
    assert skip["id"] == "CKV_AWS_115"
    assert len(skip["comment"].split()) >= 8
