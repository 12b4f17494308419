"""Smoke check of LocalStack on the host: Lambda (python3.13) + DynamoDB + SSM + Logs + throttling.

    python3 e2e/host/smoke.py

Installs if needed, starts LocalStack on a free port with its own state folder, exercises it and
prints what it measured. Needs boto3: without it, it re-runs itself with the Lambda runtime's
interpreter from the installation (which has boto3).
"""

import io
import os
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from e2e.harness import host  # noqa: E402

try:
    import boto3
    from botocore.config import Config
except ImportError:
    python = host.install().lambda_python
    os.execv(python, [str(python), *sys.argv])

FUNCTION_CODE = """
import os
import time

import boto3

dynamodb = boto3.client("dynamodb")
ssm = boto3.client("ssm")


def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    table = os.environ["TABLE_NAME"]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": event["id"]}, "greeting": {"S": "hello"}})
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": event["id"]}})["Item"]
    parameter = ssm.get_parameter(Name=os.environ["PARAMETER_NAME"])["Parameter"]["Value"]
    print(f"smoke handled {event['id']} in {context.function_name} "
          f"({context.memory_limit_in_mb} MB, {context.get_remaining_time_in_millis()} ms left)")
    return {
        "greeting": item["greeting"]["S"],
        "parameter": parameter,
        "request_id": context.aws_request_id,
    }
"""

FUNCTION = "smoke-fn"
TABLE = "smoke-table"
PARAMETER = "/smoke/parameter"


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", FUNCTION_CODE)
    return buffer.getvalue()


def timed(label: str, timings: dict[str, float], fn: Any, *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    timings[label] = time.perf_counter() - started
    return result


def peak_rss_mb(pgid: int) -> float:
    """Sum of the peak RSS (VmHWM) of every process in LocalStack's process group."""
    total_kb = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of /proc/pid/stat: process group
                continue
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_kb / 1024


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)
    print(f"  ok: {message}")


def main() -> int:
    timings: dict[str, float] = {}
    inst = timed("install (check)", timings, host.install)
    localstack = timed(
        "start",
        timings,
        host.start,
        state_dir=inst.root / "smoke-state",
        # Immediate TooManyRequests (no internal retries); short keep-alive to exercise stop().
        extra_env={"DISABLE_BOTO_RETRIES": "1", "LAMBDA_KEEPALIVE_MS": "60000"},
        inst=inst,
    )
    print(f"LocalStack at {localstack.endpoint} (log {localstack.log_path})")
    try:
        run_checks(localstack, timings)
        rss = peak_rss_mb(localstack.pid)
    except Exception:
        print(localstack.log_tail(60))
        raise
    finally:
        timed("stop", timings, localstack.stop)

    print("\nmeasured:")
    for label, seconds in timings.items():
        print(f"  {label:<28} {seconds * 1000:8.0f} ms")
    print(f"  {'peak RSS (LocalStack group)':<28} {rss:8.0f} MB")
    print("smoke: 1 passed, 0 failed")
    return 0


def run_checks(localstack: host.HostLocalStack, timings: dict[str, float]) -> None:
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    no_retries = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120)

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=localstack.endpoint, config=no_retries)  # type: ignore[call-overload]

    dynamodb, ssm, lam, logs, iam = (
        client(n) for n in ("dynamodb", "ssm", "lambda", "logs", "iam")
    )

    timed(
        "dynamodb create_table",
        timings,
        dynamodb.create_table,
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    timed(
        "dynamodb put_item (warm)",
        timings,
        dynamodb.put_item,
        TableName=TABLE,
        Item={"pk": {"S": "direct"}},
    )
    ssm.put_parameter(Name=PARAMETER, Value="from-ssm", Type="String")
    role = iam.create_role(RoleName="smoke-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    timed(
        "lambda create_function",
        timings,
        lam.create_function,
        FunctionName=FUNCTION,
        Runtime="python3.13",
        Handler="app.handler",
        Role=role,
        Code={"ZipFile": function_zip()},
        Timeout=30,
        MemorySize=256,
        Environment={"Variables": {"TABLE_NAME": TABLE, "PARAMETER_NAME": PARAMETER}},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=FUNCTION)

    import json

    def invoke(event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        response = lam.invoke(FunctionName=FUNCTION, Payload=json.dumps(event).encode())
        return response, json.loads(response["Payload"].read() or b"null")

    response, body = timed("invoke (cold)", timings, invoke, {"id": "one"})
    check(response.get("FunctionError") is None, f"cold invoke succeeded: {body}")
    check(
        body["greeting"] == "hello" and body["parameter"] == "from-ssm",
        "function read DynamoDB and SSM",
    )
    response, body = timed("invoke (warm)", timings, invoke, {"id": "two"})
    check(response.get("FunctionError") is None, "warm invoke succeeded")

    response, body = invoke({"no-id": True})
    check(
        response.get("FunctionError") == "Unhandled" and body["errorType"] == "KeyError",
        f"handler error reported: {body.get('errorType')}: {body.get('errorMessage')}",
    )

    # The function's print() must reach CloudWatch Logs.
    deadline = time.monotonic() + 15
    started = time.perf_counter()
    messages: list[str] = []
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{FUNCTION}")["events"]
            messages = [e["message"] for e in events]
        except logs.exceptions.ResourceNotFoundException:
            pass
        if any("smoke handled two" in m for m in messages):
            break
        time.sleep(0.2)
    timings["logs visible after"] = time.perf_counter() - started
    check(any("smoke handled one" in m for m in messages), "function output in CloudWatch Logs")
    check(any(m.startswith("REPORT RequestId") for m in messages), "REPORT line in CloudWatch Logs")

    # Reserved concurrency 1: a second invocation while the first runs must be throttled.
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=1)
    slow: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: slow.update(result=invoke({"id": "slow", "sleep": 2})))
    thread.start()
    time.sleep(0.7)
    started = time.perf_counter()
    try:
        invoke({"id": "throttled"})
        throttled = False
    except lam.exceptions.TooManyRequestsException:
        throttled = True
    timings["throttled invoke answer"] = time.perf_counter() - started
    thread.join()
    check(throttled, "second concurrent invocation throttled (TooManyRequestsException)")
    check(slow["result"][0].get("FunctionError") is None, "first invocation completed")


if __name__ == "__main__":
    sys.exit(main())
