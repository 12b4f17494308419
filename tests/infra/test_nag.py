"""cdk-nag: synth fails on any finding nobody acknowledged, and every acknowledgement is live.

Each synth goes through main.build_stack, exactly like `cdk synth` and the lint templates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_iam as iam

import main
from infra.nag import (
    ACKNOWLEDGEMENTS,
    HEALTH_IS_ANONYMOUS,
    IAM_AUTHORIZATION,
    PACK,
    SCOPED_ACKNOWLEDGEMENTS,
    Acknowledgement,
)
from infra.stack import UsersApiStack
from tests.infra.conftest import ENVIRONMENTS, NO_BUNDLING

Report = dict[str, Any]
ACKNOWLEDGED = {a.finding for a in ACKNOWLEDGEMENTS}


def synth_report(
    outdir: Path,
    environment: str,
    *,
    acknowledgements: tuple[Acknowledgement, ...] = ACKNOWLEDGEMENTS,
    change: Callable[[UsersApiStack], None] = lambda stack: None,
    context: dict[str, str] | None = None,
) -> tuple[Report, Exception | None]:
    """Synthesize the app with cdk-nag and return its AwsSolutions report and any failure."""
    app = App(
        outdir=str(outdir),
        context={**NO_BUNDLING, "environment": environment, **(context or {})},
    )
    change(main.build_stack(app, acknowledgements))
    error: Exception | None = None
    try:
        app.synth()
    except RuntimeError as raised:  # jsii surfaces CDK's ValidationFailed as a RuntimeError
        error = raised
    report = json.loads((outdir / "validation-report.json").read_text())
    (nag_report,) = [r for r in report["pluginReports"] if r["pluginName"] == PACK]
    return nag_report, error


def rule_names(entries: list[dict[str, Any]]) -> set[str]:
    return {entry["ruleName"] for entry in entries}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The real app's reports, with the real acknowledgements, per environment."""
    result = {}
    for environment in ENVIRONMENTS:
        report, error = synth_report(tmp_path_factory.mktemp(environment), environment)
        assert error is None, f"{environment} synth failed: {error}"
        result[environment] = report
    return result


def suppressed(report: Report) -> set[tuple[str, str]]:
    return {(e["ruleName"], e["reason"]) for e in report["suppressedViolations"]}


def test_synth_has_no_unacknowledged_finding(reports: dict[str, Report]) -> None:
    for environment, report in reports.items():
        assert report["conclusion"] == "success", environment
        assert report["violations"] == [], environment


def test_every_acknowledgement_matches_a_finding_that_occurs(reports: dict[str, Report]) -> None:
    # Acknowledged findings are reported as suppressed, with the reason given.
    found = set().union(*(suppressed(report) for report in reports.values()))
    expected = {(a.finding, a.reason) for a in (*ACKNOWLEDGEMENTS, *SCOPED_ACKNOWLEDGEMENTS)}
    stale = expected - found
    assert not stale, f"acknowledgements that match no finding (stale or misspelled): {stale}"
    assert found == expected


def test_the_anonymous_method_acknowledged_is_the_health_check_alone(
    reports: dict[str, Report],
) -> None:
    for report in reports.values():
        for entry in report["suppressedViolations"]:
            paths = {resource["constructPath"] for resource in entry["violatingConstructs"]}
            if entry["reason"] == HEALTH_IS_ANONYMOUS[0].reason:
                assert {p.split("/", 1)[1] for p in paths} == {"Api/RestApi/Default/GET/Resource"}
            if entry["reason"] == IAM_AUTHORIZATION.reason:
                assert all("/Api/RestApi/" in path for path in paths)


def test_acknowledgements_name_one_finding_each_with_a_reason() -> None:
    assert len(ACKNOWLEDGED) == len(ACKNOWLEDGEMENTS), "an acknowledgement is repeated"
    for acknowledgement in (*ACKNOWLEDGEMENTS, *SCOPED_ACKNOWLEDGEMENTS):
        assert acknowledgement.finding.startswith(f"{PACK}-")
        assert acknowledgement.validation_id == f"{PACK}::{acknowledgement.finding}"
        assert len(acknowledgement.reason.split()) >= 8, acknowledgement.finding


def test_without_acknowledgements_synth_fails_on_exactly_those_findings(tmp_path: Path) -> None:
    # Given dev and prod with nothing acknowledged app-wide
    violations: set[str] = set()
    for environment in ENVIRONMENTS:
        report, error = synth_report(tmp_path / environment, environment, acknowledgements=())
        # Then synth fails, and the findings are exactly the acknowledged ones
        assert error is not None
        assert "ValidationFailed" in str(error)
        assert report["conclusion"] == "failure"
        violations |= rule_names(report["violations"])
    assert violations == ACKNOWLEDGED


def test_a_new_anonymous_method_fails_synth(tmp_path: Path) -> None:
    # Given the real acknowledgements and an anonymous method beside the health check
    def add_anonymous_method(stack: UsersApiStack) -> None:
        stack.api.rest_api.root.add_resource("open").add_method("GET")

    report, error = synth_report(tmp_path, "dev", change=add_anonymous_method)
    # Then synth fails on it: the health check's acknowledgement covers only itself
    assert error is not None
    assert {
        (entry["ruleName"], resource["constructPath"])
        for entry in report["violations"]
        for resource in entry["violatingConstructs"]
    } == {
        ("AwsSolutions-APIG4", "UsersApi-dev/Api/RestApi/Default/open/GET/Resource"),
    }


def test_a_new_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    # Given the real acknowledgements and a policy that grants every S3 action
    def add_broad_policy(stack: UsersApiStack) -> None:
        iam.Policy(
            stack,
            "TooBroad",
            roles=[stack.service.role],
            statements=[iam.PolicyStatement(actions=["s3:*"], resources=["*"])],
        )

    report, error = synth_report(tmp_path, "dev", change=add_broad_policy)
    # Then synth fails on that finding alone: the app-wide Resource::* acknowledgement still
    # does not cover the new Action::s3:* finding
    assert error is not None
    assert rule_names(report["violations"]) == {"AwsSolutions-IAM5[Action::s3:*]"}


def test_cognito_mode_passes_without_the_iam_acknowledgement(tmp_path: Path) -> None:
    # Given prod with a Cognito user pool authorizer
    pool = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"
    report, error = synth_report(
        tmp_path,
        "prod",
        context={"authorization": "cognito", "cognitoUserPoolArn": pool},
    )
    # Then nothing is left unacknowledged, and COG4 is acknowledged on the health check alone
    assert error is None, error
    assert report["violations"] == []
    assert IAM_AUTHORIZATION.reason not in {e["reason"] for e in report["suppressedViolations"]}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_synth_that_knows_its_account_and_region_passes_too(
    tmp_path: Path, environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the environment `cdk deploy` (and cdklocal) synthesizes for: account and region known
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "000000000000")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    report, error = synth_report(tmp_path, environment)
    # Then every finding is still acknowledged (their ids do not depend on the environment)
    assert error is None, error
    assert report["violations"] == []
