"""What IAM evaluates for a call, and the audits built on moto's evaluator (no network)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto.iam.access_control import PermissionResult

from e2e.least_privilege.audit import (
    RECORDER_PATH,
    RecordedCall,
    RecorderMissing,
    audit,
    recorded_calls,
    render,
)
from e2e.least_privilege.authorization import (
    Authorization,
    Call,
    allows,
    resource_fields,
    verdict,
)
from e2e.least_privilege.callers import Request, contract_allows, judge, unsent_operations

REGION, ACCOUNT = "eu-west-1", "111122223333"
USERS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/users"
RECORDS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/records"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/function"


def call(service: str, operation: str, **params: Any) -> Call:
    return Call(service, operation, params, REGION, ACCOUNT)


def test_a_transaction_is_authorised_item_by_item_on_each_items_table() -> None:
    transaction = call(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "users", "Item": {"UserId": {"S": "u"}}}},
            {"ConditionCheck": {"TableName": "users", "Key": {}}},
            {"Delete": {"TableName": "records", "Key": {}}},
        ],
    )
    assert transaction.authorizations() == [
        Authorization("dynamodb:PutItem", USERS, "TransactItems[0].Put"),
        Authorization("dynamodb:ConditionCheckItem", USERS, "TransactItems[1].ConditionCheck"),
        Authorization("dynamodb:DeleteItem", RECORDS, "TransactItems[2].Delete"),
    ]


def test_get_parameters_is_authorised_per_parameter_and_unknown_calls_on_star() -> None:
    assert call("ssm", "GetParameters", Names=["/p/a", "/p/b"]).authorizations() == [
        Authorization("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/p/a", "/p/a"),
        Authorization("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/p/b", "/p/b"),
    ]
    assert call("sqs", "ListQueues").authorizations() == [Authorization("sqs:ListQueues", "*")]


def test_a_recorder_keeps_only_what_names_resources() -> None:
    params = {"TableName": "users", "Item": {"email": {"S": "ada@example.com"}}}
    assert resource_fields(params) == {"TableName": "users"}


ROLE_DOCUMENTS = {
    "policy": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Scan"], "Resource": USERS},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:x:y:key/k"},
        ],
    }
}


def recorded(*calls: Call, role: str = ROLE) -> list[RecordedCall]:
    return [RecordedCall(c, role, "function") for c in calls]


def test_the_audit_names_a_call_no_statement_allows_and_a_grant_nothing_used() -> None:
    # Given the function read an item, wrote one, and never scanned
    calls = recorded(
        call("dynamodb", "GetItem", TableName="users"),
        call("dynamodb", "PutItem", TableName="users"),
        call("dynamodb", "GetItem", TableName="users"),
    )
    # When its role is audited, KMS declared used by a service
    result = audit(calls, ROLE, "function", ROLE_DOCUMENTS, {"kms:Decrypt": "DynamoDB"})
    # Then
    assert result.failures == [
        f"call not allowed by the role: dynamodb.PutItem needs dynamodb:PutItem on {USERS}",
        f"grant used by no call: dynamodb:Scan on {USERS} (policy#0)",
    ]
    assert (result.calls, sum(result.uses.values())) == (3, 3)
    table = render(result)
    assert "| dynamodb:GetItem on " + USERS + " | policy#0 | dynamodb.GetItem x2 |" in table
    assert "on the function's behalf: DynamoDB" in table


def test_the_audit_passes_when_grants_and_calls_match_and_ignores_other_roles() -> None:
    calls = [
        *recorded(
            call("dynamodb", "GetItem", TableName="users"),
            call("dynamodb", "Scan", TableName="users"),
        ),
        *recorded(call("dynamodb", "DeleteTable", TableName="users"), role="another"),
    ]
    result = audit(calls, ROLE, "function", ROLE_DOCUMENTS, {"kms:Decrypt": "DynamoDB"})
    assert (result.failures, dict(result.others)) == ([], {"another": 1})


def test_another_session_using_the_functions_role_fails() -> None:
    calls = [RecordedCall(call("dynamodb", "Scan", TableName="users"), ROLE, "someone")]
    result = audit(calls, ROLE, "function", ROLE_DOCUMENTS, {"kms:Decrypt": "DynamoDB"})
    assert "the function's role was used by another session: someone" in result.failures


def test_a_declared_indirect_grant_that_is_granted_nowhere_fails() -> None:
    result = audit([], ROLE, "function", ROLE_DOCUMENTS, {"kms:Encrypt": "DynamoDB"})
    assert "declared used on the function's behalf, but not granted: kms:Encrypt" in result.failures


READ_ONLY = {
    "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:api/GET/users/*"}
    ]
}


def test_the_callers_audit_compares_moto_s_verdict_with_the_contract() -> None:
    # Given a read-only policy that (wrongly) allows no listing, and a read-write one for all
    read_write = {
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]
    }
    sent = {Request("GET", "/users/abc"): 2, Request("GET", "/users"): 1, Request("GET", "/"): 1}
    verdicts = judge(sent, READ_ONLY, read_write, lambda r: f"arn:api/{r.method}{r.path}")
    by_request = {v.request: v for v in verdicts}
    assert by_request[Request("GET", "/users/abc")].agrees
    assert not by_request[Request("GET", "/users")].agrees  # the contract gives it to read-only
    assert not by_request[Request("GET", "/")].agrees  # anonymous: no policy should name it
    assert contract_allows(Request("DELETE", "/users/abc")) == (False, True)
    assert [(op.method, op.template) for op in unsent_operations(sent)] == [
        ("POST", "/users"),
        ("PUT", "/users/{userId}"),
        ("DELETE", "/users/{userId}"),
    ]


class Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback stand-in for LocalStack: with the recorder (one call kept) or without it."""

    installed = True

    def do_GET(self) -> None:
        if not self.installed or self.path != RECORDER_PATH:
            self.send_error(404)
            return
        raw = {
            "signingName": "dynamodb",
            "operation": "PutItem",
            "region": REGION,
            "account": ACCOUNT,
            "roleArn": ROLE,
            "sessionName": "function",
            "params": {"TableName": "users", "Item": {"email": {"S": "ada@example.com"}}},
        }
        body = json.dumps({"calls": [raw]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def localstack() -> Iterator[tuple[str, type[Recorder]]]:
    handler = type("Handler", (Recorder,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_recorded_calls_keep_only_what_names_resources(
    localstack: tuple[str, type[Recorder]],
) -> None:
    endpoint, _ = localstack
    (recorded_call,) = recorded_calls(endpoint)
    assert recorded_call == RecordedCall(
        call("dynamodb", "PutItem", TableName="users"), ROLE, "function"
    )


def test_a_localstack_without_the_recorder_fails_the_audit_saying_so(
    localstack: tuple[str, type[Recorder]],
) -> None:
    endpoint, handler = localstack
    handler.installed = False
    with pytest.raises(RecorderMissing, match="has no call recorder"):
        recorded_calls(endpoint)


def test_a_statement_bound_to_kms_via_service_allows_only_calls_through_that_service() -> None:
    # Given the function role's KMS statement, as the stack writes it
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    documents = [
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
                    },
                }
            ]
        }
    ]
    decrypt = Authorization("kms:Decrypt", key)
    # Then a direct call is not allowed, one through DynamoDB is, one through another service not
    assert verdict(documents, decrypt) is PermissionResult.NEUTRAL
    assert allows(documents, decrypt, {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"})
    assert not allows(documents, decrypt, {"kms:ViaService": f"s3.{REGION}.amazonaws.com"})
