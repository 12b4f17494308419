"""The function's deployed role against the calls it made during the e2e session.

Every call the function made (recorded in LocalStack by `localstack_host_lambda.calls`) is
split into what IAM evaluates for it and judged by moto's evaluator, statement by statement;
every grant of the role (one action on one resource of one Allow statement) is judged against
those calls. A grant that no call used passes only when the stack declares it used on the
function's behalf by a service (`infra.function.USED_ON_THE_FUNCTIONS_BEHALF`), with the reason.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from moto.iam.access_control import PermissionResult

from e2e.least_privilege.authorization import (
    Authorization,
    Call,
    Grant,
    allows,
    grants,
    resource_fields,
    statements,
    verdict,
)

RECORDER_PATH: Final = "/_localstack-host/calls"


class RecorderMissing(Exception):
    """The LocalStack has no call recorder: the audit cannot see the function's calls."""


@dataclass(frozen=True)
class RecordedCall:
    call: Call
    role_arn: str
    session_name: str  # the function's name: LocalStack assumes its role under that name


def recorded_calls(endpoint: str) -> list[RecordedCall]:
    """Every call LocalStack recorded as made with an assumed role's credentials."""
    try:
        with urllib.request.urlopen(f"{endpoint}{RECORDER_PATH}", timeout=30) as response:
            body = json.loads(response.read())
        calls = body["calls"]
    except (urllib.error.HTTPError, ValueError, KeyError, TypeError) as error:
        raise RecorderMissing(
            f"LocalStack at {endpoint} has no call recorder at {RECORDER_PATH} ({error}): install "
            "e2e/host/executor (localstack_host_lambda.calls) into its venv"
        ) from error
    return [
        RecordedCall(
            Call(
                service=raw["signingName"],
                operation=raw["operation"],
                params=resource_fields(raw["params"]),  # nothing else of a request is kept
                region=raw["region"],
                account=raw["account"],
            ),
            role_arn=raw["roleArn"],
            session_name=raw["sessionName"],
        )
        for raw in calls
    ]


def role_documents(aws: Any, role_name: str) -> dict[str, dict[str, Any]]:
    """`{policy name: document}`: the role's inline and attached policies, as deployed."""
    iam = aws("iam")
    documents: dict[str, dict[str, Any]] = {}
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents[name] = _document(
            iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        )
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        documents[attached["PolicyName"]] = managed_policy_document(aws, attached["PolicyArn"])
    return documents


def managed_policy_document(aws: Any, policy_arn: str) -> dict[str, Any]:
    iam = aws("iam")
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)
    return _document(document["PolicyVersion"]["Document"])


def _document(document: Any) -> dict[str, Any]:
    return json.loads(document) if isinstance(document, str) else dict(document)


@dataclass(frozen=True, order=True)
class Use:
    """One authorization of recorded calls, with how many calls asked for it."""

    service: str
    operation: str
    authorization: Authorization

    @property
    def label(self) -> str:
        part = f" [{self.authorization.part}]" if self.authorization.part else ""
        return f"{self.service}.{self.operation}{part}"


@dataclass
class Audit:
    role_arn: str
    function_name: str
    documents: Mapping[str, Mapping[str, Any]]
    indirect: Mapping[str, str]  # action -> why a service uses it on the function's behalf
    uses: Counter[Use] = field(default_factory=Counter)
    allowed_by: dict[Use, list[str]] = field(default_factory=dict)
    grant_users: dict[Grant, list[Use]] = field(default_factory=dict)
    calls: int = 0  # made with the role's credentials
    sessions: Counter[str] = field(default_factory=Counter)  # who assumed the role for them
    others: Counter[str] = field(default_factory=Counter)  # calls with other roles' credentials

    @property
    def unallowed(self) -> list[Use]:
        return [use for use in sorted(self.uses) if not self.allowed_by[use]]

    @property
    def indirect_grants(self) -> list[Grant]:
        return [
            g for g, users in self.grant_users.items() if not users and g.action in self.indirect
        ]

    @property
    def unused(self) -> list[Grant]:
        return [
            g
            for g, users in self.grant_users.items()
            if not users and g.action not in self.indirect
        ]

    @property
    def undeclared_indirect(self) -> list[str]:
        """Declared as used on the function's behalf, yet granted nowhere: a stale declaration."""
        granted = {grant.action for grant in self.grant_users}
        return sorted(set(self.indirect) - granted)

    @property
    def strangers(self) -> list[str]:
        """Sessions other than the function's that made calls with its role."""
        return sorted(set(self.sessions) - {self.function_name})

    @property
    def failures(self) -> list[str]:
        return [
            *(f"the function's role was used by another session: {s}" for s in self.strangers),
            *(
                f"call not allowed by the role: {use.label} needs {_pair(use)}"
                for use in self.unallowed
            ),
            *(
                f"grant used by no call: {g.action} on {g.resource} ({g.statement})"
                for g in self.unused
            ),
            *(
                f"declared used on the function's behalf, but not granted: {action}"
                for action in self.undeclared_indirect
            ),
        ]


def audit(
    calls: Sequence[RecordedCall],
    role_arn: str,
    function_name: str,
    documents: Mapping[str, Mapping[str, Any]],
    indirect: Mapping[str, str],
) -> Audit:
    result = Audit(role_arn, function_name, documents, indirect)
    for recorded in calls:
        if recorded.role_arn != role_arn:
            result.others[recorded.role_arn] += 1
            continue
        result.calls += 1
        result.sessions[recorded.session_name] += 1
        for authorization in recorded.call.authorizations():
            result.uses[Use(recorded.call.service, recorded.call.operation, authorization)] += 1
    every_statement = statements(documents)
    all_documents = list(documents.values())
    for use in result.uses:
        # The statements that allow it alone; none when the role as a whole refuses it.
        allowing = [
            statement.label
            for statement in every_statement
            if allows([statement.document()], use.authorization)
        ]
        result.allowed_by[use] = allowing if allows(all_documents, use.authorization) else []
    for grant, condition in grants(documents).items():
        document = grant.document(condition)
        result.grant_users[grant] = [
            use
            for use in sorted(result.uses)
            if verdict([document], use.authorization) is PermissionResult.PERMITTED
        ]
    return result


def _grant(grant: Grant) -> str:
    return f"{grant.action} on {grant.resource}"


def _pair(use: Use) -> str:
    return f"{use.authorization.action} on {use.authorization.resource}"


def render(result: Audit) -> str:
    """The grants-versus-calls table (Markdown: readable in a terminal and as an artifact)."""
    used = [g for g, users in result.grant_users.items() if users]
    lines = [
        "# Least privilege: the function's role against the calls it made",
        "",
        f"- function: `{result.function_name}`; role: `{result.role_arn}`",
        f"- calls with the role: {result.calls}, by "
        + ", ".join(f"`{name}` ({count})" for name, count in sorted(result.sessions.items()))
        + f"; authorizations: {sum(result.uses.values())} ({len(result.uses)} distinct); "
        f"not allowed: {len(result.unallowed)}",
        "- calls with other roles' credentials, not audited: "
        + (", ".join(f"`{arn}` ({n})" for arn, n in sorted(result.others.items())) or "none"),
        f"- grants: {len(result.grant_users)}; used by calls: {len(used)}; used on the "
        f"function's behalf by a service: {len(result.indirect_grants)}; "
        f"unused: {len(result.unused)}",
        "",
        "## Each grant and the calls that used it",
        "",
        "| grant | statement | used by |",
        "| --- | --- | --- |",
    ]
    for grant, users in sorted(result.grant_users.items()):
        if users:
            used_by = "; ".join(f"{use.label} x{result.uses[use]}" for use in users)
        elif grant.action in result.indirect:
            used_by = f"on the function's behalf: {result.indirect[grant.action]}"
        else:
            used_by = "**UNUSED**"
        lines.append(f"| {grant.action} on {grant.resource} | {grant.statement} | {used_by} |")
    lines += [
        "",
        "## Each call and the statements that allow it",
        "",
        "| call | authorised as | calls | allowed by |",
        "| --- | --- | --- | --- |",
    ]
    for use in sorted(result.uses):
        allowed = ", ".join(result.allowed_by[use]) or "**NOT ALLOWED**"
        lines.append(f"| {use.label} | {_pair(use)} | {result.uses[use]} | {allowed} |")
    return "\n".join(lines) + "\n"
