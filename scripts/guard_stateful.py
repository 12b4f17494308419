"""Stops a deploy that would replace or delete a stateful resource, naming each one.

Stateful: DynamoDB tables, KMS keys, log groups, SNS topics and the ensured log group
(`STATEFUL_TYPES` in infra/names.py). Two ways to see what a deploy would do:

- `--method change-set` (before a deploy; CloudFormation's own answer): reads the change set
  that `cdk deploy --no-execute --change-set-name users-api-guard` created, then deletes it.
  Each change's `Replacement` and `Action: Remove` decide. It assumes the CDK deploy role the
  assembly names, as `cdk deploy` does, unless `--no-assume-role`.
- `--method template` (read-only: `make diff`, the pull request's diff role): compares the
  deployed template (GetTemplate) with the synthesized one. A stateful logical id that is gone,
  a changed type, or a changed property that forces replacement (`REPLACING_PROPERTIES`).

A resource may be replaced or deleted on purpose once its logical id is allowed: synthesize with
`-c allowReplace=<logical id>[,<logical id>...]` (the assembly records it; read here), or pass
`--allow`. The AWS endpoint is `--endpoint-url`, else AWS_ENDPOINT_URL (LocalStack).

Usage:
  python scripts/guard_stateful.py --stack UsersApi-dev [--app cdk.out]
      [--method change-set|template] [--change-set-name users-api-guard] [--keep-change-set]
      [--allow ID,...] [--endpoint-url URL] [--region REGION] [--no-assume-role]

Exit status: 0 nothing stateful is replaced or deleted (or only allowed ones), 1 one sentence
per offending resource, 2 the guard could not tell (one sentence).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The project root is on the path only from here (as in scripts/synth_templates.py).
from infra.names import (
    ALLOW_REPLACE_CONTEXT,
    ALLOW_REPLACE_METADATA,
    ENSURED_LOG_GROUP_TYPE,
    REPLACING_PROPERTIES,
    STATEFUL_TYPES,
)

CHANGE_SET_NAME = "users-api-guard"
CHANGE_SET = "change-set"
TEMPLATE = "template"
# CloudFormation's reason for a change set it would not create because nothing changed.
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
WAIT_SECONDS = 300
GONE = "it is no longer in the template: a renamed or moved construct gets a new logical id"


class GuardError(Exception):
    """The guard could not decide; the message is one sentence."""


@dataclass(frozen=True)
class Finding:
    logical_id: str
    resource_type: str
    what: str  # "replaced" or "deleted"
    because: str

    def sentence(self, stack: str) -> str:
        return (
            f"{stack}: {self.resource_type} {self.logical_id} would be {self.what} "
            f"({self.because}); if that is intended, deploy with "
            f"-c {ALLOW_REPLACE_CONTEXT}={self.logical_id}."
        )


# --- the decision, from CloudFormation's change set -------------------------------------------


def change_set_findings(changes: Iterable[dict[str, Any]]) -> list[Finding]:
    """What the change set would replace or delete among the stateful resources."""
    resource_changes = [c["ResourceChange"] for c in changes if c.get("Type") == "Resource"]
    # A reference to one of these resolves to a new value, so what refers to them may change.
    renewed = {
        rc["LogicalResourceId"]
        for rc in resource_changes
        if rc.get("Replacement") == "True" or rc.get("Action") == "Remove"
    }
    findings = []
    for change in resource_changes:
        if change.get("ResourceType") in STATEFUL_TYPES and (finding := _finding(change, renewed)):
            findings.append(finding)
    return findings


def _finding(change: dict[str, Any], renewed: set[str]) -> Finding | None:
    logical_id, kind = change["LogicalResourceId"], change["ResourceType"]
    # Newer change sets say what happens to the old physical resource (e.g. ReplaceAndRetain).
    policy = f"; policy action {change['PolicyAction']}" if change.get("PolicyAction") else ""
    if change.get("Action") == "Remove":
        return Finding(
            logical_id,
            kind,
            "deleted",
            GONE + policy,
        )
    if change.get("Action") != "Modify":
        return None
    details = change.get("Details", [])
    if change.get("Replacement") == "True":
        causes = _names(d for d in details if d["Target"].get("RequiresRecreation") == "Always")
        return Finding(
            logical_id, kind, "replaced", f"a change to {causes or 'it'} requires it{policy}"
        )
    if change.get("Replacement") == "Conditional":
        causes = _names(
            d
            for d in details
            if d["Target"].get("RequiresRecreation") in ("Always", "Conditionally")
            and _may_change(d, renewed)
        )
        if causes:
            return Finding(
                logical_id, kind, "replaced", f"a change to {causes} may require it{policy}"
            )
        return None
    if kind == ENSURED_LOG_GROUP_TYPE:
        # CloudFormation never replaces a custom resource itself: its provider answers a new
        # physical id for a new name, and CloudFormation then deletes the old group.
        causes = _names(
            d
            for d in details
            if d["Target"].get("Name") in REPLACING_PROPERTIES[kind] and _may_change(d, renewed)
        )
        if causes:
            return Finding(logical_id, kind, "replaced", f"a new {causes} is a new group")
    return None


def _may_change(detail: dict[str, Any], renewed: set[str]) -> bool:
    """False only for a reference to a resource updated in place: its value stays the same."""
    if detail.get("Evaluation") != "Dynamic":
        return True
    if detail.get("ChangeSource") not in ("ResourceReference", "ResourceAttribute"):
        return True  # a parameter or an unknown source may well change
    return str(detail.get("CausingEntity", "")).split(".")[0] in renewed


def _names(details: Iterable[dict[str, Any]]) -> str:
    return ", ".join(
        sorted({str(d["Target"].get("Name") or d["Target"]["Attribute"]) for d in details})
    )


# --- the decision, from the deployed and the synthesized template ----------------------------


def template_findings(deployed: dict[str, Any], synthesized: dict[str, Any]) -> list[Finding]:
    """What the synthesized template would replace or delete among the deployed stateful ones.

    Read-only and approximate: a reference inside a property is compared as written, so a
    referenced resource's replacement shows only in the change set.
    """
    new_resources = synthesized.get("Resources", {})
    findings = []
    for logical_id, old in deployed.get("Resources", {}).items():
        kind = old["Type"]
        if kind not in STATEFUL_TYPES:
            continue
        new = new_resources.get(logical_id)
        if new is None:
            findings.append(Finding(logical_id, kind, "deleted", GONE))
        elif new["Type"] != kind:
            findings.append(
                Finding(logical_id, kind, "replaced", f"its type becomes {new['Type']}")
            )
        elif changed := [
            name
            for name in REPLACING_PROPERTIES[kind]
            if old.get("Properties", {}).get(name) != new.get("Properties", {}).get(name)
        ]:
            because = f"a change to {', '.join(changed)} requires it"
            findings.append(Finding(logical_id, kind, "replaced", because))
    return findings


def verdict(
    stack: str, findings: Sequence[Finding], allowed: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The sentences that fail the guard, and the notes about what was allowed."""
    allowed = set(allowed)
    failures = [f.sentence(stack) for f in findings if f.logical_id not in allowed]
    notes = [
        f"{stack}: {f.resource_type} {f.logical_id} will be {f.what} ({f.because}): "
        f"allowed by {ALLOW_REPLACE_CONTEXT}."
        for f in findings
        if f.logical_id in allowed
    ]
    unused = sorted(allowed - {f.logical_id for f in findings})
    if unused:
        notes.append(
            f"{stack}: {ALLOW_REPLACE_CONTEXT} names {', '.join(unused)}, which this deploy "
            "neither replaces nor deletes."
        )
    return failures, notes


# --- the cloud assembly -----------------------------------------------------------------------


@dataclass(frozen=True)
class Assembly:
    template: dict[str, Any]
    allowed: tuple[str, ...]
    assume_role_arn: str | None
    region: str | None


def read_assembly(app: Path, stack: str) -> Assembly:
    manifest_file = app / "manifest.json"
    if not manifest_file.is_file():
        raise GuardError(
            f"No cloud assembly at {app}: synthesize first (cdk synth, diff or deploy)."
        )
    artifacts = json.loads(manifest_file.read_text()).get("artifacts", {})
    artifact = artifacts.get(stack)
    if artifact is None or artifact.get("type") != "aws:cloudformation:stack":
        raise GuardError(
            f"The assembly at {app} holds no stack {stack}: synthesize that environment."
        )
    properties = artifact.get("properties", {})
    template = json.loads((app / properties["templateFile"]).read_text())
    metadata = dict(artifact.get("metadata", {}))
    # Newer CDK versions write the stack's metadata to a file of its own.
    if extra := artifact.get("additionalMetadataFile"):
        metadata.update(json.loads((app / extra).read_text()))
    allowed = [
        str(logical_id)
        for entries in metadata.values()
        for entry in entries
        if entry.get("type") == ALLOW_REPLACE_METADATA
        for logical_id in entry.get("data", [])
    ]
    region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
    return Assembly(
        template=template,
        allowed=tuple(allowed),
        assume_role_arn=properties.get("assumeRoleArn"),
        region=None if region in ("", "unknown-region") else region,
    )


# --- AWS --------------------------------------------------------------------------------------


def session(region: str | None, endpoint_url: str | None, assume_role_arn: str | None) -> Any:
    """A boto3 session; with a role (CDK's deploy role, as `cdk deploy` uses), as that role."""
    base = boto3.Session(region_name=region)
    if base.region_name is None:
        raise GuardError("No AWS region: set AWS_REGION or pass --region.")
    if not assume_role_arn:
        return base
    sts = base.client("sts", endpoint_url=endpoint_url)
    identity = sts.get_caller_identity()
    role = (
        assume_role_arn.replace("${AWS::AccountId}", identity["Account"])
        .replace("${AWS::Partition}", identity["Arn"].split(":")[1])
        .replace("${AWS::Region}", base.region_name)
    )
    try:
        credentials = sts.assume_role(RoleArn=role, RoleSessionName="users-api-guard")[
            "Credentials"
        ]
    except ClientError as error:
        # As cdk deploy does: credentials for the right account may do the work themselves.
        print(f"note: could not assume {role} ({error}); using the current credentials")
        return base
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=base.region_name,
    )


def read_change_set(cloudformation: Any, stack: str, name: str) -> list[dict[str, Any]] | None:
    """The change set's changes; None when there is none, because nothing changed."""
    deadline = time.monotonic() + WAIT_SECONDS
    changes: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        arguments = {"StackName": stack, "ChangeSetName": name}
        if token:
            arguments["NextToken"] = token
        try:
            page = cloudformation.describe_change_set(**arguments)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "")
            if code == "ChangeSetNotFound" or "does not exist" in message:
                # cdk deploy --no-execute creates no change set when nothing changed.
                return None
            raise GuardError(f"CloudFormation refused DescribeChangeSet: {message}") from error
        status = page.get("Status")
        if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            if time.monotonic() > deadline:
                raise GuardError(
                    f"Change set {name} of {stack} was still {status} after {WAIT_SECONDS} s."
                )
            time.sleep(3)
            continue
        if status == "FAILED":
            reason = str(page.get("StatusReason", ""))
            if any(text in reason for text in NO_CHANGES):
                return []
            raise GuardError(f"Change set {name} of {stack} failed: {reason}")
        changes += page.get("Changes", [])
        token = page.get("NextToken")
        if not token:
            return changes


def deployed_template(cloudformation: Any, stack: str) -> dict[str, Any] | None:
    try:
        body = cloudformation.get_template(StackName=stack, TemplateStage="Original")[
            "TemplateBody"
        ]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise GuardError(f"CloudFormation refused GetTemplate for {stack}: {error}") from error
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as error:
            raise GuardError(
                f"The deployed template of {stack} is not JSON (CDK writes JSON)."
            ) from error
    return dict(body)


# --- command line -----------------------------------------------------------------------------


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="e.g. UsersApi-dev")
    parser.add_argument("--app", type=Path, default=Path("cdk.out"), help="the cloud assembly")
    parser.add_argument("--method", choices=(CHANGE_SET, TEMPLATE), default=CHANGE_SET)
    parser.add_argument("--change-set-name", default=CHANGE_SET_NAME)
    parser.add_argument("--keep-change-set", action="store_true")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        help="logical ids that may be replaced or deleted, comma-separated (as -c allowReplace)",
    )
    parser.add_argument("--endpoint-url", help="default: AWS_ENDPOINT_URL, else AWS")
    parser.add_argument("--region", help="default: the assembly's, else AWS_REGION")
    parser.add_argument("--no-assume-role", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    try:
        assembly = read_assembly(args.app, args.stack)
        allowed = [
            *assembly.allowed,
            *(i.strip() for a in args.allow for i in a.split(",") if i.strip()),
        ]
        role = None if args.no_assume_role or args.method == TEMPLATE else assembly.assume_role_arn
        aws = session(args.region or assembly.region, args.endpoint_url, role)
        cloudformation = aws.client("cloudformation", endpoint_url=args.endpoint_url)
        if args.method == TEMPLATE:
            deployed = deployed_template(cloudformation, args.stack)
            findings = [] if deployed is None else template_findings(deployed, assembly.template)
        else:
            changes, exists = None, True
            try:
                changes = read_change_set(cloudformation, args.stack, args.change_set_name)
                exists = changes is not None
            finally:
                if exists and not args.keep_change_set:
                    _delete_change_set(cloudformation, args.stack, args.change_set_name)
            if changes is None:
                print(f"{args.stack}: no change set {args.change_set_name}: nothing to deploy.")
            findings = change_set_findings(changes or [])
    except GuardError as error:
        print(f"guard: {error}", file=sys.stderr)
        return 2
    failures, notes = verdict(args.stack, findings, allowed)
    for line in notes:
        print(line)
    for line in failures:
        print(line, file=sys.stderr)
    if failures:
        return 1
    print(f"{args.stack}: no stateful resource would be replaced or deleted ({args.method}).")
    return 0


def _delete_change_set(cloudformation: Any, stack: str, name: str) -> None:
    # Left behind, it would be a reviewed-looking change set nobody executes.
    # None to delete (nothing changed) or already gone is fine.
    with contextlib.suppress(ClientError):
        cloudformation.delete_change_set(StackName=stack, ChangeSetName=name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
