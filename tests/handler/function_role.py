"""The function's role, taken from the synthesized template, enforced on the clients the
function builds in the handler tests.

Every call such a client makes is split into what IAM evaluates for it
(`e2e.least_privilege.authorization`: per item for a transaction, per parameter for
``GetParameters``) and judged by moto's policy evaluator against the role's policy documents
as the dev template has them. A refused call answers ``AccessDeniedException``, as AWS would,
and is kept: the test then fails naming it (`conftest.function_role`).

moto's own enforcement (``INITIAL_NO_AUTH_ACTION_COUNT``) is not used: it judges DynamoDB
calls by action alone (on ``*``) and asks for a ``dynamodb:TransactWriteItems`` that IAM has
not, so it could only pass with a role that is not the template's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto.core.models import DEFAULT_ACCOUNT_ID

from e2e.least_privilege.authorization import PARTITION, Authorization, Call, allows, as_list
from infra.names import HANDLER
from tests.infra.conftest import synth_environment

ACCOUNT: Final = DEFAULT_ACCOUNT_ID
ENVIRONMENT: Final = "dev"  # its parameter path is the one the handler tests use
_REFUSED = "users_api_tests.refused"  # where a check leaves its verdict for the same call


@dataclass(frozen=True)
class Denial:
    call: Call
    authorization: Authorization

    def __str__(self) -> str:
        part = f" [{self.authorization.part}]" if self.authorization.part else ""
        return (
            f"the call {self.call.service}.{self.call.operation}{part} needs "
            f"{self.authorization.action} on {self.authorization.resource}"
        )


def resolve(value: Any, refs: Mapping[str, str], arns: Mapping[str, str]) -> Any:
    """The template's intrinsics, as far as a policy of this stack uses them: `Ref` of a pseudo
    parameter, `Fn::GetAtt [id, Arn]` of a resource the tests have, `Fn::Join`. Anything else
    becomes a name no request of the tests can carry, so it allows nothing here."""
    if isinstance(value, list):
        return [resolve(item, refs, arns) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return refs.get(argument, f"unresolved:Ref:{argument}")
        if function == "Fn::GetAtt":
            logical_id, attribute = argument
            if attribute == "Arn" and logical_id in arns:
                return arns[logical_id]
            return f"unresolved:GetAtt:{logical_id}.{attribute}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(resolve(part, refs, arns)) for part in parts)
    return {key: resolve(item, refs, arns) for key, item in value.items()}


@cache
def role_documents(region: str, users: str, idempotency: str) -> dict[str, dict[str, Any]]:
    """`{policy logical id: document}` of the function's role in the synthesized dev template,
    with the users and idempotency tables called `users` and `idempotency`."""
    stack, template = synth_environment(ENVIRONMENT)
    resources = template.to_json()["Resources"]
    (function,) = (
        resource
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["Handler"] == HANDLER
    )
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]

    def table_id(table: Any) -> str:
        return str(stack.get_logical_id(table.node.default_child))

    arns = {
        table_id(stack.data.table): table_arn(region, users),
        table_id(stack.data.idempotency_table): table_arn(region, idempotency),
    }
    refs = {"AWS::Partition": PARTITION, "AWS::Region": region, "AWS::AccountId": ACCOUNT}
    documents = {
        logical_id: resolve(resource["Properties"]["PolicyDocument"], refs, arns)
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": role_id} in resource["Properties"]["Roles"]
    }
    assert documents, f"no policy of the function's role {role_id} in the template"
    return documents


def table_arn(region: str, name: str) -> str:
    return f"arn:{PARTITION}:dynamodb:{region}:{ACCOUNT}:table/{name}"


@dataclass
class FunctionRole:
    """The role's documents (read from the template on first use) and the calls it refused."""

    region: str
    tables: Mapping[str, str]  # users=..., idempotency=...: the names the tests give them
    denials: list[Denial] = field(default_factory=list)
    _documents: dict[str, dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self._default_tables = dict(self.tables)
        self._changed = False  # a test renamed the tables or revoked a grant

    @property
    def documents(self) -> dict[str, dict[str, Any]]:
        if self._documents is None:
            pristine = role_documents(self.region, self.tables["users"], self.tables["idempotency"])
            self._documents = copy.deepcopy(pristine)  # a test may revoke a grant
        return self._documents

    def name_tables(self, **names: str) -> None:
        """The stack's tables are called `names` (users=..., idempotency=...) from now on."""
        self.tables = {**self.tables, **names}
        self._documents = None
        self._changed = True

    def take_denials(self) -> list[str]:
        """The refusals so far, as sentences, no longer kept: a test that expects them takes
        them, so the fixture's own check (no call refused) does not fail it."""
        taken = [str(denial) for denial in self.denials]
        self.denials.clear()
        return taken

    def reset(self) -> None:
        """The template's role again, with the tests' table names and no refusals kept."""
        self.denials.clear()
        if self._changed:
            self.tables = dict(self._default_tables)
            self._documents = None
            self._changed = False

    def revoke(self, action: str, resource: str) -> None:
        """Take `action` out of every statement whose only resource is `resource` (for tests
        that prove a missing grant is caught)."""
        for document in self.documents.values():
            for statement in document["Statement"]:
                actions = as_list(statement["Action"])
                if statement.get("Resource") == resource and action in actions:
                    statement["Action"] = [name for name in actions if name != action]
                    self._changed = True

    def enforce(self, client: Any) -> Any:
        """Every call of `client` from now on is judged against the role; returns `client`."""
        service = client.meta.service_model.signing_name
        region = client.meta.region_name

        def check(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            call = Call(service, model.name, params, region, ACCOUNT)
            refused = [
                Denial(call, authorization)
                for authorization in call.authorizations()
                if not allows(list(self.documents.values()), authorization)
            ]
            if refused:
                self.denials.extend(refused)
                context[_REFUSED] = refused

        def refuse(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            refused = context.get(_REFUSED)
            if not refused:
                return None
            message = "; ".join(map(str, refused))
            parsed = {
                "Error": {"Code": "AccessDeniedException", "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            return AWSResponse("https://denied.invalid", 400, HTTPHeaders(), None), parsed

        client.meta.events.register("before-parameter-build.*.*", check)
        client.meta.events.register_first("before-call.*.*", refuse)
        return client
