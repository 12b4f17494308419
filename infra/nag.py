"""cdk-nag's AwsSolutions pack on the whole app, and the findings acknowledged on purpose.

cdk-nag 3.x is a CDK validation plugin: it runs when the app synthesizes and any finding that
is not acknowledged fails the synth (`cdk synth`, `cdk deploy`, `scripts/synth_templates.py`
and the tests alike). Each acknowledgement names exactly one finding, with its pack prefix
(`AwsSolutions-IAM5[Resource::*]`). `ACKNOWLEDGEMENTS` apply app-wide; the few in
`SCOPED_ACKNOWLEDGEMENTS` are applied by a construct to itself and what it contains (the
anonymous health method, the IAM-authorized API), so the same finding anywhere else still
fails the synth. CDK files each under the pack's
namespace (`AwsSolutions::...`), so the synth's validation report lists every acknowledged
finding with its reason under `suppressedViolations`: the audit trail. A misspelled id would
match nothing, silently; tests/infra/test_nag.py proves that each one matches a real finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.access import USER_OPERATIONS
from infra.settings import ENVIRONMENTS

PACK: Final = "AwsSolutions"
# The REST API's logical id, as the findings on the callers' policies name it.
REST_API_LOGICAL_ID: Final = "ApiRestApiE35FEAFE"


@dataclass(frozen=True)
class Acknowledgement:
    finding: str  # the rule id as cdk-nag reports it, e.g. "AwsSolutions-IAM5[Resource::*]"
    reason: str

    @property
    def validation_id(self) -> str:
        """The id CDK's Validations API files the acknowledgement under."""
        return f"{PACK}::{self.finding}"


def _caller_policy_acknowledgements() -> tuple[Acknowledgement, ...]:
    """The callers' policies name each method ARN; in `/users/*` the `*` is the user id."""
    return tuple(
        Acknowledgement(
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
            f"<AWS::AccountId>:<{REST_API_LOGICAL_ID}>/{environment}/{op.method}{op.arn_path}]",
            f"{op.method} {op.path} of the {environment} stage: the wildcard stands for the "
            "user id path segment, which a method ARN cannot name any other way.",
        )
        for environment in ENVIRONMENTS
        for op in USER_OPERATIONS
        if "*" in op.arn_path
    )


ACKNOWLEDGEMENTS: Final[tuple[Acknowledgement, ...]] = (
    Acknowledgement(
        "AwsSolutions-APIG2",
        "The function validates every body and parameter and answers the contract's own 400s "
        "(INVALID_JSON, VALIDATION_ERROR with details); an API Gateway request validator would "
        "answer a generic BAD_REQUEST_BODY first and break that contract.",
    ),
    Acknowledgement(
        "AwsSolutions-APIG3",
        "Load is bounded by stage throttling and the function's reserved concurrency; a WAFv2 "
        "web ACL is an account-level control (and cost) that the platform team associates with "
        "the stage outside this stack when it is required.",
    ),
    Acknowledgement(
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
        "The account-wide API Gateway CloudWatch role uses the AWS managed policy that AWS "
        "documents for it; it grants only log delivery, and AWS keeps it current.",
    ),
    Acknowledgement(
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
        "permissions; every other statement of the function's role names exact resources.",
    ),
    Acknowledgement(
        "AwsSolutions-L1",
        "The runtime is pinned to Python 3.13 on purpose: the function's dependencies are "
        "locked, bundled and tested for 3.13, and a runtime upgrade is its own tested change.",
    ),
    *_caller_policy_acknowledgements(),
)


# Applied by infra/api.py to the one method each is about.
HEALTH_IS_ANONYMOUS: Final = tuple(
    Acknowledgement(
        finding,
        "GET / is the health check: it holds no personal data, and the contract lets "
        "monitors call it without credentials. Every other method is authorized.",
    )
    for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4")
)
IAM_AUTHORIZATION: Final = Acknowledgement(
    "AwsSolutions-COG4",
    "This API runs with authorization=iam: every method that reaches users' data uses "
    "AWS_IAM (SigV4 and execute-api:Invoke from the stack's policies), which authenticates "
    "AWS principals; a Cognito user pool authorizer is the opt-in authorization=cognito mode.",
)
# Applied by infra/api.py to the custom resource that ensures the stage's execution log group.
EXECUTION_LOG_GROUP_ARN_FORMS: Final = tuple(
    Acknowledgement(
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
        f"log-group:API-Gateway-Execution-Logs_<{REST_API_LOGICAL_ID}>/{environment}:*]",
        f"The {environment} stage's execution log group alone: CloudWatch Logs authorizes some "
        "log group actions on the group's ARN ending in ':*', the same single group.",
    )
    for environment in ENVIRONMENTS
)
SCOPED_ACKNOWLEDGEMENTS: Final = (
    *HEALTH_IS_ANONYMOUS,
    IAM_AUTHORIZATION,
    *EXECUTION_LOG_GROUP_ARN_FORMS,
)


def add_checks(app: App, acknowledgements: tuple[Acknowledgement, ...] = ACKNOWLEDGEMENTS) -> None:
    """Run the AwsSolutions pack on every stack of `app` and acknowledge the deliberate findings."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    acknowledge(app, *acknowledgements)


def acknowledge(scope: IConstruct, *acknowledgements: Acknowledgement) -> None:
    """Acknowledge findings on `scope` and everything it contains."""
    if acknowledgements:
        Validations.of(scope).acknowledge(
            *(Acknowledgment(id=a.validation_id, reason=a.reason) for a in acknowledgements)
        )
