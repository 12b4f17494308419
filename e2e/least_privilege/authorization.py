"""What IAM evaluates for one AWS API call, and moto's policy evaluator on it.

A call is authorised as one or more (action, resource) pairs. Most calls are one pair: the
operation's action on the resource the request names. Some are not: a ``TransactWriteItems``
has no action of its own, each of its items is authorised as the ``PutItem``, ``UpdateItem``,
``DeleteItem`` or ``ConditionCheckItem`` it holds, on that item's table; a ``GetParameters``
is authorised once per parameter it names. Whatever this module cannot name a resource for
is evaluated on ``*``, which no statement scoped to resources allows: an unknown call fails
loudly instead of passing unseen.

The verdicts are moto's (``IAMPolicy.is_action_permitted``): no policy matcher of our own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from moto.iam.access_control import IAMPolicy, PermissionResult

PARTITION: Final = "aws"
# The item types of DynamoDB's transactions, and the action IAM authorises each one as.
TRANSACTION_ITEM_ACTIONS: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
TRANSACTIONS: Final = ("TransactWriteItems", "TransactGetItems")
# Request fields that name the resource a call acts on, per service. A recorder keeps these and
# nothing else of a request (items hold personal data).
RESOURCE_FIELDS: Final = frozenset(
    {"TableName", "TransactItems", "RequestItems", "Name", "Names", "Path", "KeyId"}
    | {"logGroupName", "logStreamName"}
)


@dataclass(frozen=True, order=True)
class Authorization:
    """One (action, resource) IAM evaluates for a call; `part` says which part asked for it."""

    action: str  # dynamodb:PutItem
    resource: str  # an ARN, or "*"
    part: str = ""  # e.g. "TransactItems[1].Put"; empty when the call is one authorization


@dataclass(frozen=True)
class Call:
    """One AWS API call as a client sent it: enough to say what IAM evaluates for it."""

    service: str  # the IAM prefix (the service's signing name): dynamodb, ssm, kms, logs
    operation: str  # GetItem
    params: Mapping[str, Any]  # the request's parameters (RESOURCE_FIELDS suffice)
    region: str
    account: str

    def authorizations(self) -> list[Authorization]:
        return list(_authorizations(self))

    def describe(self) -> str:
        return f"{self.service}:{self.operation} ({self.region}, account {self.account})"


def resource_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a request that names resources (what a recorder keeps of it)."""
    kept: dict[str, Any] = {}
    for name, value in params.items():
        if name == "TransactItems":
            kept[name] = [
                {kind: {"TableName": body.get("TableName")} for kind, body in item.items()}
                for item in value
            ]
        elif name == "RequestItems":
            kept[name] = {table: {} for table in value}  # the keys are the table names
        elif name in RESOURCE_FIELDS:
            kept[name] = value
    return kept


def _authorizations(call: Call) -> Iterator[Authorization]:
    params = call.params
    if call.service == "dynamodb":
        table = partial_arn(call, "dynamodb", "table/")
        if call.operation in TRANSACTIONS:
            for index, item in enumerate(params.get("TransactItems", [])):
                for kind, body in item.items():
                    yield Authorization(
                        f"dynamodb:{TRANSACTION_ITEM_ACTIONS[kind]}",
                        table(body["TableName"]),
                        f"TransactItems[{index}].{kind}",
                    )
            return
        if "RequestItems" in params:
            for name in params["RequestItems"]:
                yield Authorization(f"dynamodb:{call.operation}", table(name), name)
            return
        if "TableName" in params:
            yield Authorization(f"dynamodb:{call.operation}", table(params["TableName"]))
            return
    if call.service == "ssm":
        parameter = partial_arn(call, "ssm", "parameter/")
        names = params.get("Names") or ([params["Name"]] if "Name" in params else [])
        if "Path" in params:
            names = [params["Path"]]
        if names:
            for name in names:
                yield Authorization(
                    f"ssm:{call.operation}",
                    parameter(name.lstrip("/")),
                    name if len(names) > 1 else "",
                )
            return
    if call.service == "kms" and "KeyId" in params:
        yield Authorization(f"kms:{call.operation}", partial_arn(call, "kms", "")(params["KeyId"]))
        return
    if call.service == "logs" and "logGroupName" in params:
        group = f"log-group:{params['logGroupName']}"
        if "logStreamName" in params:
            group += f":log-stream:{params['logStreamName']}"
        yield Authorization(f"logs:{call.operation}", partial_arn(call, "logs", "")(group))
        return
    yield Authorization(f"{call.service}:{call.operation}", "*")


def partial_arn(call: Call, service: str, prefix: str) -> Any:
    """An ARN builder for `service` in the call's region and account (an ARN passes as is)."""

    def arn(name: str) -> str:
        if name.startswith("arn:"):
            return name
        if service == "kms" and not name.startswith(("key/", "alias/")):
            name = f"key/{name}"
        return f"arn:{PARTITION}:{service}:{call.region}:{call.account}:{prefix}{name}"

    return arn


# --- moto's evaluator ------------------------------------------------------------------------


def verdict(
    documents: Sequence[Mapping[str, Any]],
    authorization: Authorization,
    context: Mapping[str, str] | None = None,
) -> PermissionResult:
    """Identity-policy evaluation over several documents: an explicit Deny in any wins, then
    an Allow in any; neither is NEUTRAL (IAM's implicit deny)."""
    results = [
        IAMPolicy(json.dumps(_applicable(document, context or {}))).is_action_permitted(
            authorization.action,
            authorization.resource,
            incoming_condition_values=dict(context) if context else None,
        )
        for document in documents
    ]
    if PermissionResult.DENIED in results:
        return PermissionResult.DENIED
    if PermissionResult.PERMITTED in results:
        return PermissionResult.PERMITTED
    return PermissionResult.NEUTRAL


def _applicable(document: Mapping[str, Any], context: Mapping[str, str]) -> dict[str, Any]:
    """`document` without the statements whose condition needs a key the request lacks.

    IAM does not match such a statement (unless the operator ends in ...IfExists or is Null);
    moto's evaluator passes a condition whose key is absent, which would let a direct call
    through a statement bound to `kms:ViaService`. Only the keys' presence is decided here:
    the values are moto's to judge.
    """

    def applies(statement: Mapping[str, Any]) -> bool:
        return all(
            key in context
            for operator, keys in statement.get("Condition", {}).items()
            if not operator.endswith("IfExists") and operator != "Null"
            for key in keys
        )

    kept = [statement for statement in as_list(document["Statement"]) if applies(statement)]
    return {**document, "Statement": kept}


def allows(
    documents: Sequence[Mapping[str, Any]],
    authorization: Authorization,
    context: Mapping[str, str] | None = None,
) -> bool:
    return verdict(documents, authorization, context) is PermissionResult.PERMITTED


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    """One statement of a named policy document, numbered from 0 as it appears."""

    policy: str
    index: int
    body: Mapping[str, Any]

    @property
    def label(self) -> str:
        sid = self.body.get("Sid")
        return f"{self.policy}#{self.index}" + (f" ({sid})" if sid else "")

    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [dict(self.body)]}


def statements(documents: Mapping[str, Mapping[str, Any]]) -> list[Statement]:
    """Every statement of `{policy name: document}`."""
    return [
        Statement(name, index, body)
        for name, document in documents.items()
        for index, body in enumerate(as_list(document["Statement"]))
    ]


@dataclass(frozen=True, order=True)
class Grant:
    """One action on one resource of one Allow statement: the unit a role grants."""

    action: str
    resource: str
    statement: str  # the statement's label

    def document(self, condition: Mapping[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"Effect": "Allow", "Action": self.action, "Resource": self.resource}
        if condition:
            body["Condition"] = dict(condition)
        return {"Version": "2012-10-17", "Statement": [body]}


def grants(documents: Mapping[str, Mapping[str, Any]]) -> dict[Grant, Mapping[str, Any] | None]:
    """Every (action, resource) an Allow statement names, with the statement's condition."""
    found: dict[Grant, Mapping[str, Any] | None] = {}
    for statement in statements(documents):
        if statement.body.get("Effect") != "Allow":
            continue
        for action in as_list(statement.body["Action"]):
            for resource in as_list(statement.body["Resource"]):
                found[Grant(action, resource, statement.label)] = statement.body.get("Condition")
    return found
