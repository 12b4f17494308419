"""The LocalStack half of the cold-start benchmark (bench/cold_start.py runs it): the stack
deployed in a LocalStack of its own (host mode) with a bare boto3 function beside it that does the
same calls as our first request (SSM GetParameters, DynamoDB GetItem) and answers 404. Each round
changes both functions' configuration, which gives each a new execution environment, and times
its first invocation (a GET of an unknown user) and a second, warm one.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

from infra import names  # noqa: F401 - it puts the function's package on the import path
from users_api.definitions import PARAMETER_NAMES, PARAMETER_TABLE_NAME

ENVIRONMENT = "dev"
BARE_NAME_SUFFIX = "-bare"

# The parameters our function reads on its first request.
PARAMETERS = PARAMETER_NAMES
# The bare function: boto3 only, the same AWS calls as our first GET of a user.
BARE_HANDLER = """
import json
import os

import boto3


SSM = boto3.client("ssm")
DYNAMODB = boto3.client("dynamodb")


def handler(event, context):
    path = os.environ["CONFIG_PARAMETER_PATH"]
    names = [f"{path}/{name}" for name in os.environ["PARAMETERS"].split(",")]
    found = SSM.get_parameters(Names=names)["Parameters"]
    table = {p["Name"]: p["Value"] for p in found}[f"{path}/{os.environ['TABLE_PARAMETER']}"]
    key = {"UserId": {"S": event["pathParameters"]["userId"]}}
    item = DYNAMODB.get_item(TableName=table, Key=key).get("Item")
    return {"statusCode": 200 if item else 404, "body": json.dumps({"found": bool(item)})}
"""


def median_ms(samples: Iterable[float]) -> str:
    values = sorted(samples)
    return f"{statistics.median(values):4.0f} ms ({values[0]:.0f}-{values[-1]:.0f})"


# --- LocalStack --------------------------------------------------------------------------------


def bare_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bare.py", BARE_HANDLER)
    return buffer.getvalue()


def get_user_event(user_id: str) -> bytes:
    path = f"/users/{user_id}"
    event = {
        "resource": "/users/{userId}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"userId": user_id},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/users/{userId}",
            "httpMethod": "GET",
            "stage": ENVIRONMENT,
            "path": f"/{ENVIRONMENT}{path}",
            "requestId": str(uuid.uuid4()),
        },
        "body": None,
        "isBase64Encoded": False,
    }
    return json.dumps(event).encode()


def deploy_bare_function(lambda_client: Any, function_name: str) -> str:
    """A bare boto3 function beside ours: same runtime, role, memory, timeout and config path."""
    ours = lambda_client.get_function_configuration(FunctionName=function_name)
    name = f"{function_name}{BARE_NAME_SUFFIX}"
    lambda_client.create_function(
        FunctionName=name,
        Runtime=ours["Runtime"],
        Role=ours["Role"],
        Handler="bare.handler",
        Code={"ZipFile": bare_zip()},
        Timeout=ours["Timeout"],
        MemorySize=ours["MemorySize"],
        Environment={
            "Variables": {
                "CONFIG_PARAMETER_PATH": ours["Environment"]["Variables"]["CONFIG_PARAMETER_PATH"],
                "PARAMETERS": ",".join(PARAMETERS),
                "TABLE_PARAMETER": PARAMETER_TABLE_NAME,
            }
        },
    )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def timed_invoke(lambda_client: Any, function_name: str) -> float:
    started = time.perf_counter()
    response = lambda_client.invoke(
        FunctionName=function_name, Payload=get_user_event(str(uuid.uuid4()))
    )
    elapsed = (time.perf_counter() - started) * 1000
    payload = json.loads(response["Payload"].read())
    if response.get("FunctionError") or payload.get("statusCode") != 404:
        sys.exit(f"{function_name} did not answer 404 for an unknown user: {payload}")
    return elapsed


def new_environment(lambda_client: Any, function_name: str, round_number: int) -> None:
    """A configuration change: Lambda (and LocalStack) start a new execution environment."""
    current = lambda_client.get_function_configuration(FunctionName=function_name)
    variables = {**current["Environment"]["Variables"], "BENCH_ROUND": str(round_number)}
    lambda_client.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function_name)


def localstack_benchmark(runs: int) -> None:
    from e2e.harness import host
    from e2e.harness.deploy import aws_client, deploy
    from e2e.harness.modes import HarnessError, Mode
    from e2e.harness.paths import STATE_ROOT
    from e2e.harness.session import start_localstack

    work_dir = STATE_ROOT / "bench-cold-start"
    log: Callable[[str], None] = lambda message: print(f"  {message}", file=sys.stderr)  # noqa: E731
    localstack = start_localstack(
        Mode.HOST, host.free_port(), name="users-api-bench", state_dir=work_dir / "state"
    )
    try:
        try:
            deployment = deploy(localstack.endpoint, work_dir, log=log)
        except HarnessError as error:
            sys.exit(f"{error}\n{localstack.log_tail(80)}")
        lambda_client = aws_client("lambda", localstack.endpoint)
        ours = deployment.function_name
        bare = deploy_bare_function(lambda_client, ours)
        functions = {"users API function": ours, "bare boto3 function": bare}
        cold: dict[str, list[float]] = {label: [] for label in functions}
        warm: dict[str, list[float]] = {label: [] for label in functions}
        labels = list(functions)
        for run in range(runs):
            for label in labels if run % 2 == 0 else reversed(labels):
                new_environment(lambda_client, functions[label], run)
                cold[label].append(timed_invoke(lambda_client, functions[label]))
                warm[label].append(timed_invoke(lambda_client, functions[label]))
    finally:
        localstack.stop()

    print(
        f"cold start on LocalStack (host mode): first request after a configuration change, "
        f"{runs} runs each:"
    )
    for label in labels:
        print(f"  {label:<22} first {median_ms(cold[label])}   then {median_ms(warm[label])}")
    ratio = statistics.median(cold[labels[0]]) / statistics.median(cold[labels[1]])
    print(f"  first-request ratio    {ratio:.2f}x")
