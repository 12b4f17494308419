"""Least privilege: the function's role allows exactly the calls its code makes."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from infra.function import XRAY_ACTIONS
from infra.stack import UsersApiStack
from tests.infra.conftest import only_resource, synth


def function_role_statements(stack: UsersApiStack, template: Template) -> list[dict[str, Any]]:
    role_ref = stack.resolve(stack.service.role.role_name)
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [role_ref]}})
    return [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def normalised(statement: dict[str, Any]) -> tuple[Any, ...]:
    actions = statement["Action"]
    resources = statement["Resource"]
    return (
        statement["Effect"],
        tuple(sorted([actions] if isinstance(actions, str) else actions)),
        tuple(str(r) for r in ([resources] if not isinstance(resources, list) else resources)),
        str(statement.get("Condition")),
    )


def test_function_role_allows_exactly_the_calls_the_code_makes(
    stack: UsersApiStack, template: Template
) -> None:
    # Given the exact resources the function uses
    table_arn = stack.resolve(stack.data.table.table_arn)
    records_arn = stack.resolve(stack.data.idempotency_table.table_arn)
    key_arn = stack.resolve(stack.data.key.key_arn)
    log_group_arn = stack.resolve(stack.service.log_group.log_group_arn)
    parameter_arns = [stack.resolve(arn) for arn in stack.config.parameter_arns]
    region = stack.resolve(stack.region)

    # When the role's statements are read from the template
    statements = function_role_statements(stack, template)

    # Then they are exactly these, and nothing else
    expected = [
        {
            "Effect": "Allow",
            "Action": [
                # The keyed create checks that no record of an earlier release holds its key.
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
            ],
            "Resource": table_arn,
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
            "Resource": records_arn,
        },
        {
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": {"Fn::Join": ["", ["dynamodb.", region, ".amazonaws.com"]]}
                }
            },
        },
        {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arns},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_group_arn,
        },
        {"Effect": "Allow", "Action": list(XRAY_ACTIONS), "Resource": "*"},
    ]
    assert sorted(map(normalised, statements)) == sorted(map(normalised, expected))


def test_the_only_wildcard_resource_is_x_ray(stack: UsersApiStack, template: Template) -> None:
    wildcards = [s for s in function_role_statements(stack, template) if s["Resource"] == "*"]
    assert [tuple(sorted(s["Action"])) for s in wildcards] == [XRAY_ACTIONS]


def test_ssm_access_names_exactly_the_three_parameters(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    (ssm,) = [
        s for s in function_role_statements(stack, template) if s["Action"] == "ssm:GetParameters"
    ]
    names = [str(arn) for arn in ssm["Resource"]]
    for leaf in ("tableName", "defaultPageSize", "maxPageSize"):
        assert sum(f"parameter/{environment}/users-api/{leaf}" in n for n in names) == 1


def test_function_role_has_no_managed_policies(stack: UsersApiStack, template: Template) -> None:
    role_id = stack.get_logical_id(stack.service.role.node.default_child)  # type: ignore[arg-type]
    role = template.to_json()["Resources"][role_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]


def test_api_invokes_through_resource_based_permissions_only(template: Template) -> None:
    # No credentials role on the integrations: API Gateway is allowed by the function's
    # resource policy instead.
    for method in template.find_resources("AWS::ApiGateway::Method").values():
        assert "Credentials" not in method["Properties"].get("Integration", {})
    permissions = template.find_resources("AWS::Lambda::Permission")
    assert permissions
    for permission in permissions.values():
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
        assert "test-invoke-stage" not in str(permission["Properties"]["SourceArn"])


def test_api_gateway_account_role_is_created_and_retained_by_default(template: Template) -> None:
    # API Gateway needs an account-level role to write execution logs.
    account = only_resource(template, "AWS::ApiGateway::Account")
    assert account["DeletionPolicy"] == "Retain"
    template.has_resource(
        "AWS::IAM::Role",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "AssumeRolePolicyDocument": Match.object_like(
                        {
                            "Statement": [
                                Match.object_like(
                                    {"Principal": {"Service": "apigateway.amazonaws.com"}}
                                )
                            ]
                        }
                    )
                }
            ),
        },
    )


def test_api_gateway_account_role_can_be_left_to_another_stack() -> None:
    # Given an account whose API Gateway CloudWatch role is managed elsewhere
    _, template = synth({"environment": "prod", "manageApiGatewayAccountRole": "false"})
    # Then this stack neither creates nor changes it
    template.resource_count_is("AWS::ApiGateway::Account", 0)
    # The function's role and the log group provider's are the only roles left
    roles = template.find_resources("AWS::IAM::Role")
    assert all(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "lambda.amazonaws.com"}
        for role in roles.values()
    )
    assert len(roles) == 2
