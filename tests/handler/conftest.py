"""Fixtures for the handler suite: fake AWS credentials, moto, event builder, fake context.

Nothing here touches the network: DynamoDB and SSM are moto's in-memory fakes, and tests that
need failures use fakes or botocore's Stubber. The clients the function builds
(`function_client`, `function_dynamodb`) run under its role as the synthesized template grants
it: a call the role does not allow fails the test that made it, naming the call.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

import handler
from tests.handler.function_role import FunctionRole
from users_api.api import UsersApi
from users_api.container import Container
from users_api.observability import logger, metrics
from users_api.settings import Settings

REGION = "eu-west-1"
TABLE_NAME = "users-test"
IDEMPOTENCY_TABLE_NAME = "users-idempotency-test"
PARAMETER_PATH = "/dev/users-api"
ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://admin.example.com"


# --- environment -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region: a mistake can never reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def _clean_metrics() -> Iterator[None]:
    yield
    metrics.clear_metrics()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        environment="dev",
        config_parameter_path=PARAMETER_PATH,
        config_ttl_seconds=60,
        allowed_origins=(ORIGIN, OTHER_ORIGIN),
        app_version="1.2.3",
    )


# --- clocks ----------------------------------------------------------------------------------


class FakeMonotonic:
    """An injectable monotonic clock: tests advance time instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


# --- AWS (moto) ------------------------------------------------------------------------------

# The function's role for the whole session: its documents are read from the template once.
FUNCTION_ROLE = FunctionRole(
    region=REGION, tables={"users": TABLE_NAME, "idempotency": IDEMPOTENCY_TABLE_NAME}
)


def function_client(service: str, **kwargs: Any) -> Any:
    """A client as the function builds it, under the function's role."""
    return FUNCTION_ROLE.enforce(boto3.client(service, region_name=REGION, **kwargs))  # type: ignore[call-overload]


def function_dynamodb(**kwargs: Any) -> Any:
    """The DynamoDB resource as the function builds it, under the function's role."""
    resource = boto3.resource("dynamodb", region_name=REGION, **kwargs)
    FUNCTION_ROLE.enforce(resource.meta.client)
    return resource


@pytest.fixture(autouse=True)
def function_role() -> Iterator[FunctionRole]:
    """Fails the test if the function made a call its role does not allow."""
    FUNCTION_ROLE.reset()
    yield FUNCTION_ROLE
    denied = [str(denial) for denial in FUNCTION_ROLE.denials]
    FUNCTION_ROLE.reset()
    assert not denied, "the function's role (synthesized template) does not allow: " + "; ".join(
        denied
    )


def put_parameters(values: dict[str, str]) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    for name, value in values.items():
        ssm.put_parameter(
            Name=f"{PARAMETER_PATH}/{name}", Value=value, Type="String", Overwrite=True
        )


def create_table(name: str = TABLE_NAME, key: str = "UserId") -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


DEFAULT_PARAMETERS = {
    "tableName": TABLE_NAME,
    "idempotencyTableName": IDEMPOTENCY_TABLE_NAME,
    "defaultPageSize": "20",
    "maxPageSize": "100",
}


@pytest.fixture(scope="session")
def _moto() -> Iterator[None]:
    """One moto session for the suite (starting moto and its SSM backend costs ~1 s)."""
    with mock_aws():
        create_table()
        create_table(IDEMPOTENCY_TABLE_NAME, key="IdempotencyKey")
        yield


@pytest.fixture
def aws(_moto: None) -> None:
    """Clean tables and the SSM parameters, as the stack creates them."""
    client = boto3.client("dynamodb", region_name=REGION)
    for name in client.list_tables()["TableNames"]:
        if name not in (TABLE_NAME, IDEMPOTENCY_TABLE_NAME):
            client.delete_table(TableName=name)
    for name, key in ((TABLE_NAME, "UserId"), (IDEMPOTENCY_TABLE_NAME, "IdempotencyKey")):
        table = boto3.resource("dynamodb", region_name=REGION).Table(name)
        with table.batch_writer() as batch:
            for item in table.scan(ProjectionExpression=key)["Items"]:
                batch.delete_item(Key={key: item[key]})
    put_parameters(DEFAULT_PARAMETERS)


def table_items(name: str = TABLE_NAME) -> list[dict[str, Any]]:
    """Every item of a table (test inspection only)."""
    table = boto3.resource("dynamodb", region_name=REGION).Table(name)
    return list(table.scan(ConsistentRead=True)["Items"])


def idempotency_items() -> list[dict[str, Any]]:
    return table_items(IDEMPOTENCY_TABLE_NAME)


@dataclass
class CallRecorder:
    """Records the AWS API operations a boto3 client makes (e.g. ``GetItem``)."""

    operations: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(str(model.name))


@dataclass
class AwsRecorders:
    dynamodb: CallRecorder = field(default_factory=CallRecorder)
    ssm: CallRecorder = field(default_factory=CallRecorder)


@pytest.fixture
def recorders() -> AwsRecorders:
    return AwsRecorders()


def moto_container(settings: Settings, clock: FakeMonotonic, recorders: AwsRecorders) -> Container:
    def ssm_client() -> Any:
        client = function_client("ssm")
        recorders.ssm.attach(client)
        return client

    def dynamodb() -> Any:
        resource = function_dynamodb()
        recorders.dynamodb.attach(resource.meta.client)
        return resource

    return Container(
        settings, ssm_client_factory=ssm_client, dynamodb_factory=dynamodb, config_clock=clock
    )


@pytest.fixture
def api(aws: None, settings: Settings, clock: FakeMonotonic, recorders: AwsRecorders) -> UsersApi:
    """The real API wired to moto, installed as the one ``handler.lambda_handler`` serves."""
    return UsersApi(settings, moto_container(settings, clock, recorders))


# --- events, context and responses -----------------------------------------------------------


@dataclass
class FakeLambdaContext:
    """What the Lambda runtime passes. Deliberately has NO ``request_id`` attribute."""

    aws_request_id: str = "lambda-req-0001"
    function_name: str = "users-api-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:users-api-dev"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/users-api-dev"
    log_stream_name: str = "2026/11/25/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    base64_encoded: bool = False,
    request_id: str | None = "apigw-req-0001",
    resource: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (proxy) event. ``body`` is JSON-encoded; ``raw_body`` is sent as is."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if base64_encoded and text is not None:
        text = base64.b64encode(text.encode()).decode()
    request_context: dict[str, Any] | None = {
        "resourcePath": resource or path,
        "httpMethod": method,
        "stage": "dev",
        "path": f"/dev{path}",
        "requestId": request_id,
    }
    if request_id is None:
        request_context = None
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} if headers else None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": request_context,
        "body": text,
        "isBase64Encoded": base64_encoded,
    }


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    raw: dict[str, Any]

    @property
    def body(self) -> Any:
        return json.loads(self.raw["body"]) if self.raw.get("body") else None

    @property
    def data(self) -> Any:
        return self.body["data"]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def parse_response(raw: dict[str, Any]) -> HttpResponse:
    headers: dict[str, str] = {}
    for name, values in (raw.get("headers") or {}).items():
        headers[name.lower()] = str(values)
    for name, values in (raw.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(str(v) for v in values)
    return HttpResponse(status=int(raw["statusCode"]), headers=headers, raw=raw)


Invoke = Callable[[dict[str, Any]], HttpResponse]


@pytest.fixture
def invoke(api: UsersApi, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Calls the real entry point ``handler.lambda_handler`` with the moto-backed API."""
    return make_invoker(api, monkeypatch)


def make_invoker(api: UsersApi, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setattr(handler, "API", api)

    def call(event: dict[str, Any]) -> HttpResponse:
        return parse_response(handler.lambda_handler(event, FakeLambdaContext()))

    return call


def create_user(invoke: Invoke, **fields: Any) -> dict[str, Any]:
    payload = {"name": "Ada Lovelace", "email": "ada@example.com", **fields}
    response = invoke(api_event("POST", "/users", body=payload))
    assert response.status == 201, response.body
    return dict(response.data)


# --- logs ------------------------------------------------------------------------------------


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the Powertools logger writes during the test."""
    buffer = io.StringIO()
    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.setStream(buffer) for h in handlers]
    try:
        yield buffer
    finally:
        for h, stream in zip(handlers, previous, strict=True):
            if stream is not None:
                h.setStream(stream)


def pytest_configure(config: pytest.Config) -> None:
    # Requests without a business metric flush only the cold-start metric; Powertools warns.
    config.addinivalue_line(
        "filterwarnings", "ignore:No application metrics to publish:UserWarning"
    )
