"""Who may call the API: the operations, the callers' two policies and the REST API's policy.

Every operation that touches users is authorized (AWS_IAM by default, a Cognito user pool
on request); only `GET /` (it holds no data) and the CORS preflights (browsers never send
credentials on them) are anonymous. The catch-all methods are authorized like the users'
routes, so no anonymous request reaches the function except `GET /`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from aws_cdk import Aws
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.settings import AccessSettings
from users_api.definitions import HEALTH_PATH, ROUTES, USER_PATH, USERS_PATH

INVOKE: Final = "execute-api:Invoke"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as API Gateway names the resource: /users/{userId}

    @property
    def reads(self) -> bool:
        return self.method == "GET"

    @property
    def arn_path(self) -> str:
        """The path as it appears in a method ARN: a path parameter matches any value."""
        return re.sub(r"\{[^}]+\}", "*", self.path)


USER_OPERATIONS: Final = tuple(
    Operation(method, path)
    for path in (USERS_PATH, USER_PATH)
    for method in sorted(ROUTES[path], key=("GET", "POST", "PUT", "DELETE").index)
)
READ_OPERATIONS: Final = tuple(op for op in USER_OPERATIONS if op.reads)
ANONYMOUS_OPERATIONS: Final = (
    *(Operation(method, HEALTH_PATH) for method in ROUTES[HEALTH_PATH]),
    *(Operation("OPTIONS", path) for path in ROUTES),
)


def methods_of(path: str) -> list[str]:
    return [op.method for op in USER_OPERATIONS if op.path == path]


class CallerPolicies(Construct):
    """Two managed policies a consumer attaches to its role: read-only and read-write.

    Each names the stage's method ARNs exactly (a `*` stands for the user id), so neither
    grants the catch-all methods, another stage or another API.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        stage_name: str,
        environment: str,
    ):
        super().__init__(scope, construct_id)
        self.rest_api = rest_api
        self.stage_name = stage_name
        self.read_only = self._policy(
            "ReadOnly",
            READ_OPERATIONS,
            f"Read users through the {environment} users API (GET operations only)",
        )
        self.read_write = self._policy(
            "ReadWrite",
            USER_OPERATIONS,
            f"Read, create, update and delete users through the {environment} users API",
        )

    def method_arns(self, operations: tuple[Operation, ...]) -> list[str]:
        # Pseudo parameters rather than the stack's resolved region and account, so the ARNs
        # (and the cdk-nag findings that name them) read the same in every synth.
        api = f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
        return [
            f"{api}{self.rest_api.rest_api_id}/{self.stage_name}/{op.method}{op.arn_path}"
            for op in operations
        ]

    def _policy(
        self, construct_id: str, operations: tuple[Operation, ...], description: str
    ) -> iam.ManagedPolicy:
        return iam.ManagedPolicy(
            self,
            construct_id,
            description=description,
            statements=[
                iam.PolicyStatement(
                    sid="InvokeUsersApi",
                    actions=[INVOKE],
                    resources=self.method_arns(operations),
                )
            ],
        )


def resource_policy(access: AccessSettings, stage_name: str) -> iam.PolicyDocument:
    """The REST API's own policy (IAM mode): callers from the admitted accounts only.

    An IAM policy alone admits any principal of the deploying account, and a principal of
    another account needs this policy too; the Deny makes the list binding on both, so a
    role outside it is refused even with an IAM policy of its own. Anonymous operations
    stay open: a resource policy that named principals there would refuse every browser.
    """
    accounts = list(access.allowed_accounts)
    organization = access.allowed_organization
    if not accounts and not organization:
        accounts = [Aws.ACCOUNT_ID]
    anonymous = [_stage_arn(stage_name, op) for op in ANONYMOUS_OPERATIONS]
    everything = f"execute-api:/{stage_name}/*"
    statements = [
        iam.PolicyStatement(
            sid="AnonymousHealthAndPreflight",
            principals=[iam.AnyPrincipal()],
            actions=[INVOKE],
            resources=anonymous,
        )
    ]
    if accounts:
        statements.append(
            iam.PolicyStatement(
                sid="AdmittedAccounts",
                principals=[iam.AccountPrincipal(account) for account in accounts],
                actions=[INVOKE],
                resources=[everything],
            )
        )
    if organization:
        statements.append(
            iam.PolicyStatement(
                sid="AdmittedOrganization",
                principals=[iam.AnyPrincipal()],
                actions=[INVOKE],
                resources=[everything],
                conditions={"StringEquals": {"aws:PrincipalOrgID": organization}},
            )
        )
    # Both keys must differ to deny: a caller in the account list or in the organization passes.
    outside: dict[str, str | list[str]] = {}
    if accounts:
        outside["aws:PrincipalAccount"] = accounts
    if organization:
        outside["aws:PrincipalOrgID"] = organization
    statements.append(
        iam.PolicyStatement(
            sid="DenyEveryoneElse",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=[INVOKE],
            not_resources=anonymous,
            conditions={"StringNotEquals": outside},
        )
    )
    return iam.PolicyDocument(statements=statements)


def _stage_arn(stage_name: str, operation: Operation) -> str:
    # `execute-api:/` is the REST API's own ARN inside its resource policy.
    return f"execute-api:/{stage_name}/{operation.method}{operation.arn_path}"
