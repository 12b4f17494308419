"""cdk-nag's AwsSolutions pack on the whole app, and the findings acknowledged on purpose.

cdk-nag 3.x is a CDK validation plugin: it runs when the app synthesizes and any finding that
is not acknowledged fails the synth (`cdk synth`, `cdk deploy`, `scripts/synth_templates.py`
and the tests alike). Each acknowledgement names exactly one finding, with its pack prefix
(`AwsSolutions-IAM5[Resource::*]`), and applies app-wide. CDK files it under the pack's
namespace (`AwsSolutions::...`), so the synth's validation report lists every acknowledged
finding with its reason under `suppressedViolations`: the audit trail. A misspelled id would
match nothing, silently; tests/infra/test_nag.py proves that each one matches a real finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks

PACK: Final = "AwsSolutions"


@dataclass(frozen=True)
class Acknowledgement:
    finding: str  # the rule id as cdk-nag reports it, e.g. "AwsSolutions-IAM5[Resource::*]"
    reason: str

    @property
    def validation_id(self) -> str:
        """The id CDK's Validations API files the acknowledgement under."""
        return f"{PACK}::{self.finding}"


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
        "AwsSolutions-APIG4",
        "The API contract defines no authentication: clients and "
        "the black-box contract tests call it without credentials.",
    ),
    Acknowledgement(
        "AwsSolutions-COG4",
        "Same as APIG4: the contract is unauthenticated, so there is no Cognito user pool "
        "authorizer to attach.",
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
)


def add_checks(app: App, acknowledgements: tuple[Acknowledgement, ...] = ACKNOWLEDGEMENTS) -> None:
    """Run the AwsSolutions pack on every stack of `app` and acknowledge the deliberate findings."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    Validations.of(app).acknowledge(
        *(Acknowledgment(id=a.validation_id, reason=a.reason) for a in acknowledgements)
    )
