"""Every request the e2e suite sent, judged against the callers' two policies as deployed.

The e2e client (and the fuzzer's session) note each request they send (`note`). At the end
each distinct (method, path) becomes the `execute-api:Invoke` on its method ARN that API
Gateway would authorise, and moto's evaluator judges it against the read-only and the
read-write policy. What each should allow comes from the contract, docs/openapi.yaml: the
read-only policy its authorized GET operations, the read-write policy all its authorized
operations, neither anything else (the anonymous health check and preflights included).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from e2e.least_privilege.authorization import PARTITION, Authorization, allows
from e2e.openapi_check import DOCUMENT
from infra.access import INVOKE

HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})


@dataclass(frozen=True, order=True)
class Request:
    method: str
    path: str  # below the stage, without the query: /users/abc


# Every request the session sent through the API client or the fuzzer.
SENT: Counter[Request] = Counter()


def note(method: str, url: str, base_url: str) -> None:
    """Keep a request sent to `url` under the stage at `base_url`."""
    path = urlsplit(url).path.removeprefix(urlsplit(base_url).path) or "/"
    SENT[Request(method.upper(), path)] += 1


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # /users/{userId}
    authorized: bool

    def matches(self, request: Request) -> bool:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.template)) + "$"
        return request.method == self.method and re.match(pattern, request.path) is not None


@cache
def contract_operations() -> tuple[Operation, ...]:
    """The operations of docs/openapi.yaml; authorized unless their `security` is empty."""
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    default_security = document.get("security", [])
    return tuple(
        Operation(method.upper(), path, bool(operation.get("security", default_security)))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    )


def operation_of(request: Request) -> Operation | None:
    return next((op for op in contract_operations() if op.matches(request)), None)


def contract_allows(request: Request) -> tuple[bool, bool]:
    """(read-only, read-write): whether the contract gives each policy this request."""
    operation = operation_of(request)
    if operation is None or not operation.authorized:
        return False, False
    return operation.method == "GET", True


@dataclass(frozen=True)
class Verdict:
    request: Request
    arn: str
    read_only: bool
    read_write: bool
    expected: tuple[bool, bool]

    @property
    def agrees(self) -> bool:
        return (self.read_only, self.read_write) == self.expected


def method_arn(region: str, account: str, rest_api_id: str, stage: str, request: Request) -> str:
    return (
        f"arn:{PARTITION}:execute-api:{region}:{account}:"
        f"{rest_api_id}/{stage}/{request.method}{request.path}"
    )


def judge(
    sent: Mapping[Request, int],
    read_only: Mapping[str, Any],
    read_write: Mapping[str, Any],
    arn_of: Any,
) -> list[Verdict]:
    verdicts = []
    for request in sorted(sent):
        arn = arn_of(request)
        invoke = Authorization(INVOKE, arn)
        verdicts.append(
            Verdict(
                request,
                arn,
                allows([read_only], invoke),
                allows([read_write], invoke),
                contract_allows(request),
            )
        )
    return verdicts


def unsent_operations(sent: Mapping[Request, int]) -> list[Operation]:
    """Authorized operations of the contract that no request of the session exercised."""
    return [
        op
        for op in contract_operations()
        if op.authorized and not any(op.matches(request) for request in sent)
    ]


def render(verdicts: list[Verdict], sent: Mapping[Request, int]) -> str:
    def mark(value: bool) -> str:
        return "allow" if value else "deny"

    lines = [
        "# Least privilege: the callers' policies against the requests the suite sent",
        "",
        f"- distinct requests: {len(verdicts)} ({sum(sent.values())} sent); "
        f"disagreeing with the contract: {sum(not v.agrees for v in verdicts)}",
        "",
        "| requests (by operation) | sent | read-only | read-write | the contract's |",
        "| --- | --- | --- | --- | --- |",
    ]
    # One row per operation and outcome: the fuzzer sends many ids of the same operation.
    rows: Counter[tuple[str, bool, bool, tuple[bool, bool]]] = Counter()
    for v in verdicts:
        operation = operation_of(v.request)
        where = operation.template if operation else f"{v.request.path} (not an operation)"
        rows[(f"{v.request.method} {where}", v.read_only, v.read_write, v.expected)] += sent[
            v.request
        ]
    for (label, read_only, read_write, expected), count in sorted(rows.items()):
        agrees = (read_only, read_write) == expected
        flag = "" if agrees else " **DISAGREES**"
        lines.append(
            f"| {label} | {count} | {mark(read_only)} | {mark(read_write)} "
            f"| read-only {mark(expected[0])}, read-write {mark(expected[1])}{flag} |"
        )
    return "\n".join(lines) + "\n"
