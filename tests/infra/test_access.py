"""Who may call the API: method by method, the callers' policies and the REST API's policy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from e2e.api_client import declared_authorization
from infra.names import OutputKeys
from infra.settings import ConfigurationError, ContextReader, load_settings
from tests.infra.conftest import only_resource, synth

POOL_ARN = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"
OTHER_ACCOUNT = "210987654321"
ORGANIZATION = "o-abcdef1234"

# Literal on purpose: loosening one method must fail here. Every method that reaches users'
# data, or the function through a catch-all, is AWS_IAM; only health and preflights are open.
IAM_TABLE = {
    "GET /": "NONE",
    "ANY /": "AWS_IAM",
    "OPTIONS /": "NONE",
    "ANY /{proxy+}": "AWS_IAM",
    "GET /users": "AWS_IAM",
    "POST /users": "AWS_IAM",
    "ANY /users": "AWS_IAM",
    "OPTIONS /users": "NONE",
    "GET /users/{userId}": "AWS_IAM",
    "PUT /users/{userId}": "AWS_IAM",
    "DELETE /users/{userId}": "AWS_IAM",
    "ANY /users/{userId}": "AWS_IAM",
    "OPTIONS /users/{userId}": "NONE",
}


def reader(values: dict[str, str]) -> ContextReader:
    return lambda key: values.get(key)


# --- method by method ---------------------------------------------------------------------


def test_every_method_that_reaches_users_is_iam_authorized_in_dev_and_prod(
    template: Template,
) -> None:
    assert declared_authorization(template.to_json()) == IAM_TABLE


def test_anonymous_methods_are_health_and_the_preflights_only(template: Template) -> None:
    methods = template.find_resources("AWS::ApiGateway::Method")
    for method in methods.values():
        properties = method["Properties"]
        if properties["AuthorizationType"] == "NONE":
            # Health reaches the function but holds no data; preflights never leave API Gateway.
            is_health = (
                properties["HttpMethod"] == "GET" and "Fn::GetAtt" in (properties["ResourceId"])
            )
            assert is_health or properties["Integration"]["Type"] == "MOCK"


def method_arn(environment: str, method: str, path: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":execute-api:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":",
                {"Ref": "ApiRestApiE35FEAFE"},
                f"/{environment}/{method}{path}",
            ],
        ]
    }


def policy_statements(template: Template, description_start: str) -> list[dict[str, Any]]:
    (policy,) = [
        p["Properties"]
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if p["Properties"]["Description"].startswith(description_start)
    ]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


# --- the callers' policies -----------------------------------------------------------------


def test_read_only_policy_invokes_exactly_the_get_operations(
    template: Template, environment: str
) -> None:
    (statement,) = policy_statements(template, "Read users")
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert sorted(map(str, resources_of(statement))) == sorted(
        str(method_arn(environment, "GET", path)) for path in ("/users", "/users/*")
    )


def test_read_write_policy_invokes_exactly_every_user_operation(
    template: Template, environment: str
) -> None:
    (statement,) = policy_statements(template, "Read, create, update and delete")
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    expected = [
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/*"),
        ("PUT", "/users/*"),
        ("DELETE", "/users/*"),
    ]
    assert sorted(map(str, resources_of(statement))) == sorted(
        str(method_arn(environment, method, path)) for method, path in expected
    )


def test_policy_arns_are_outputs(template: Template) -> None:
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    outputs = template.find_outputs("*")
    refs = {
        outputs[key]["Value"]["Ref"]
        for key in (OutputKeys.READ_ONLY_POLICY_ARN, OutputKeys.READ_WRITE_POLICY_ARN)
    }
    assert refs == set(policies)


# --- the REST API's resource policy ---------------------------------------------------------


def anonymous(environment: str) -> list[str]:
    return [
        f"execute-api:/{environment}/GET/",
        f"execute-api:/{environment}/OPTIONS/",
        f"execute-api:/{environment}/OPTIONS/users",
        f"execute-api:/{environment}/OPTIONS/users/*",
    ]


def resource_policy(template: Template) -> list[dict[str, Any]]:
    api = only_resource(template, "AWS::ApiGateway::RestApi")["Properties"]
    statements: list[dict[str, Any]] = api["Policy"]["Statement"]
    return statements


def test_resource_policy_admits_only_the_deploying_account_by_default(
    template: Template, environment: str
) -> None:
    account = {"Ref": "AWS::AccountId"}
    root = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", account, ":root"]]}
    assert resource_policy(template) == [
        {
            "Sid": "AnonymousHealthAndPreflight",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "execute-api:Invoke",
            "Resource": anonymous(environment),
        },
        {
            "Sid": "AdmittedAccounts",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "execute-api:Invoke",
            "Resource": f"execute-api:/{environment}/*",
        },
        {
            "Sid": "DenyEveryoneElse",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "execute-api:Invoke",
            "NotResource": anonymous(environment),
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": [account]}},
        },
    ]


def test_resource_policy_admits_the_accounts_and_organization_given_by_context() -> None:
    # Given prod with an account list and an organization
    _, template = synth(
        {
            "environment": "prod",
            "allowedAccounts": f"123456789012, {OTHER_ACCOUNT}",
            "allowedOrganization": ORGANIZATION,
        }
    )
    statements = {s["Sid"]: s for s in resource_policy(template)}
    # Then exactly those accounts and that organization are admitted, and everyone else denied
    assert statements["AdmittedAccounts"]["Principal"] == {
        "AWS": [
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{a}:root"]]}
            for a in ("123456789012", OTHER_ACCOUNT)
        ]
    }
    assert statements["AdmittedOrganization"] == {
        "Sid": "AdmittedOrganization",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "execute-api:Invoke",
        "Resource": "execute-api:/prod/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}},
    }
    # A caller passes when it is in the list or in the organization: both must differ to deny.
    assert statements["DenyEveryoneElse"]["Condition"] == {
        "StringNotEquals": {
            "aws:PrincipalAccount": ["123456789012", OTHER_ACCOUNT],
            "aws:PrincipalOrgID": ORGANIZATION,
        }
    }
    assert statements["DenyEveryoneElse"]["NotResource"] == anonymous("prod")


def test_an_organization_alone_replaces_the_deploying_account() -> None:
    _, template = synth({"environment": "prod", "allowedOrganization": ORGANIZATION})
    statements = {s["Sid"]: s for s in resource_policy(template)}
    assert "AdmittedAccounts" not in statements
    assert statements["DenyEveryoneElse"]["Condition"] == {
        "StringNotEquals": {"aws:PrincipalOrgID": ORGANIZATION}
    }


# --- Cognito --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cognito() -> Template:
    _, template = synth(
        {
            "environment": "prod",
            "authorization": "cognito",
            "cognitoUserPoolArn": POOL_ARN,
            "cognitoScopes": "users/read, users/write",
        }
    )
    return template


def test_cognito_mode_authorizes_the_same_methods_with_the_user_pool(cognito: Template) -> None:
    expected = {
        route: ("COGNITO_USER_POOLS" if kind == "AWS_IAM" else kind)
        for route, kind in IAM_TABLE.items()
    }
    assert declared_authorization(cognito.to_json()) == expected
    authorizer = only_resource(cognito, "AWS::ApiGateway::Authorizer")
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["ProviderARNs"] == [POOL_ARN]
    (authorizer_id,) = cognito.find_resources("AWS::ApiGateway::Authorizer")
    for method in cognito.find_resources("AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        if properties["AuthorizationType"] == "COGNITO_USER_POOLS":
            assert properties["AuthorizerId"] == {"Ref": authorizer_id}
            assert properties["AuthorizationScopes"] == ["users/read", "users/write"]


def test_cognito_mode_has_no_iam_policies_for_callers(cognito: Template) -> None:
    cognito.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    assert "Policy" not in only_resource(cognito, "AWS::ApiGateway::RestApi")["Properties"]
    assert OutputKeys.READ_ONLY_POLICY_ARN not in cognito.find_outputs("*")


# --- settings: refused at synth time --------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"authorization": "none"}, "an API without authorization is not offered"),
        ({"environment": "prod", "authorization": "none"}, "without authorization"),
        ({"authorization": "cognito"}, "needs -c cognitoUserPoolArn"),
        (
            {"authorization": "cognito", "cognitoUserPoolArn": "arn:aws:s3:::bucket"},
            "needs -c cognitoUserPoolArn",
        ),
        ({"cognitoUserPoolArn": POOL_ARN}, "read only with -c authorization=cognito"),
        ({"cognitoScopes": "users/read"}, "read only with -c authorization=cognito"),
        ({"allowedAccounts": "12345"}, "'12345' is not a 12-digit account id"),
        ({"allowedOrganization": "acme"}, "'acme' is not an organization id"),
        (
            {
                "authorization": "cognito",
                "cognitoUserPoolArn": POOL_ARN,
                "allowedAccounts": OTHER_ACCOUNT,
            },
            "the user pool decides who may call",
        ),
    ],
)
def test_bad_access_settings_fail_the_synth_with_one_sentence(
    context: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(reader(context), environ={})


def test_iam_is_the_default_in_every_environment() -> None:
    for environment in ("dev", "prod"):
        settings = load_settings(reader({"environment": environment}), environ={})
        assert settings.access.authorization == "iam"
        assert settings.access.allowed_accounts == ()
