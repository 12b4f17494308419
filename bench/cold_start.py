"""Cold start: the function's import against a bare boto3 handler's, its asset's size, and the
first request after a configuration change on LocalStack against a bare function's. Prints figures.

    python bench/cold_start.py [--runs 21] [--localstack-runs 5] [--skip-localstack]

Import: the asset exactly as `cdk synth` bundles it, copied to a read-only folder with the
file times the asset zip gives it (so no bytecode can be written and timestamps do not
match, as on Lambda), imported by a fresh Python 3.13 (the one `scripts/find-python313`
finds) with nothing on its path but the code folder, the standard library and boto3 (which
Lambda's runtime provides). `import handler` against `import boto3`, which is all a bare
boto3 handler imports, alternating, in fresh processes; the figures are medians. The
function is imported as deployed (tracing on) and with tracing off.

LocalStack (host mode, started by the e2e harness beside nothing else): the stack is deployed
with a bare boto3 function beside it that does the same calls as our first request (SSM
GetParameters, DynamoDB GetItem) and answers 404. Each round changes both functions'
configuration, which gives each a new execution environment, and times its first invocation
(a GET of an unknown user) and a second, warm one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.bundling import runtime_distributions  # noqa: E402
from infra.names import HANDLER, ParameterNames  # noqa: E402

ENVIRONMENT = "dev"
# What the asset zip gives every file (its entries carry no real times).
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
BOTO3 = "boto3"
BARE_NAME_SUFFIX = "-bare"

# The parameters our function reads on its first request.
PARAMETERS = (
    ParameterNames.TABLE_NAME,
    ParameterNames.DEFAULT_PAGE_SIZE,
    ParameterNames.MAX_PAGE_SIZE,
)
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


@dataclass(frozen=True)
class Asset:
    path: Path
    environment: dict[str, str]
    memory_mb: int


def median_ms(samples: Iterable[float]) -> str:
    values = sorted(samples)
    return f"{statistics.median(values):4.0f} ms ({values[0]:.0f}-{values[-1]:.0f})"


def python313() -> str:
    finder = str(ROOT / "scripts" / "find-python313")
    result = subprocess.run([finder], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        sys.exit(result.stderr.strip())
    return result.stdout.strip()


# --- the asset ---------------------------------------------------------------------------------


def synth_asset(outdir: Path) -> Asset:
    """`cdk synth` of the dev stack; the function's bundled asset and its configuration."""
    command = [
        str(ROOT / "node_modules" / ".bin" / "cdk"),
        "synth",
        "-c",
        f"environment={ENVIRONMENT}",
        "--output",
        str(outdir),
        "--quiet",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        sys.exit(f"cdk synth failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    template = json.loads((outdir / f"UsersApi-{ENVIRONMENT}.template.json").read_text())
    (function,) = (
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Handler") == HANDLER
    )
    variables = function["Properties"]["Environment"]["Variables"]
    return Asset(
        path=outdir / function["Metadata"]["aws:asset:path"],
        environment={name: value for name, value in variables.items() if isinstance(value, str)},
        memory_mb=int(function["Properties"]["MemorySize"]),
    )


def read_only_copy(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, symlinks=True)
    for path in sorted(destination.rglob("*"), reverse=True):  # files before their folders
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
        if not path.is_symlink():
            path.chmod(0o555 if path.is_dir() else 0o444)
    destination.chmod(0o555)
    return destination


def make_writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


def asset_size(asset: Path) -> str:
    files = [path for path in asset.rglob("*") if path.is_file()]
    unzipped = sum(path.stat().st_size for path in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(asset))
    sources = sum(path.suffix == ".py" for path in files)
    compiled = sum(path.suffix == ".pyc" for path in files)
    return (
        f"{unzipped / 1e6:.1f} MB unzipped, {len(buffer.getvalue()) / 1e6:.1f} MB zipped "
        f"(Lambda allows 250 MB / 50 MB); {len(files)} files, {sources} .py, {compiled} .pyc"
    )


# --- import time -------------------------------------------------------------------------------


def lambda_runtime_dir(folder: Path) -> Path:
    """boto3 and its dependencies, as Lambda's runtime provides them: links to this venv's."""
    folder.mkdir()
    (folder / "__pycache__").mkdir()
    for distribution in runtime_distributions():
        for file in distribution.files or []:
            top = file.parts[0]
            if top.endswith(".dist-info") or top in ("..", "__pycache__", "bin"):
                continue
            link = folder / top
            if not link.exists():
                link.symlink_to(Path(str(distribution.locate_file(top))))
            if top.endswith(".py"):  # a top-level module: its bytecode sits beside it
                cached = Path(str(distribution.locate_file(file))).parent / "__pycache__"
                for pyc in cached.glob(f"{top.removesuffix('.py')}.*.pyc"):
                    (folder / "__pycache__" / pyc.name).symlink_to(pyc)
    return folder


def import_ms(
    python: str, path: list[Path], module: str, env: dict[str, str]
) -> tuple[float, float]:
    """Milliseconds (wall clock, CPU) to import `module` in a new interpreter that cannot
    write bytecode. CPU time is the steadier figure on a busy machine."""
    code = (
        "import sys, time\n"
        f"sys.path[:0] = {[str(p) for p in path]!r}\n"
        "wall, cpu = time.perf_counter(), time.process_time()\n"
        f"import {module}\n"
        "print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)\n"
    )
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [python, "-I", "-S", "-B", "-c", code], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"import {module} failed:\n{result.stderr[-3000:]}")
    wall, cpu = result.stdout.split()[-2:]
    return float(wall), float(cpu)


def lambda_environment(asset: Asset, task_root: Path, tracing: bool) -> dict[str, str]:
    """The function's variables as synthesized plus those Lambda sets itself."""
    return {
        **asset.environment,
        "POWERTOOLS_TRACE_DISABLED": str(not tracing).lower(),
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": f"UsersApi-{ENVIRONMENT}-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(asset.memory_mb),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_HANDLER": HANDLER,
        "TZ": ":UTC",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }


def import_benchmark(asset: Asset, runs: int, work: Path) -> None:
    python = python313()
    task_root = read_only_copy(asset.path, work / "task")
    runtime = lambda_runtime_dir(work / "runtime")
    path = [task_root, runtime]
    cases: dict[str, tuple[str, dict[str, str]]] = {
        "import boto3 (all a bare handler imports)": (
            BOTO3,
            lambda_environment(asset, task_root, tracing=True),
        ),
        "import handler, as deployed (tracing on)": (
            "handler",
            lambda_environment(asset, task_root, tracing=True),
        ),
        "import handler, tracing off": (
            "handler",
            lambda_environment(asset, task_root, tracing=False),
        ),
    }
    wall: dict[str, list[float]] = {label: [] for label in cases}
    cpu: dict[str, list[float]] = {label: [] for label in cases}
    labels = list(cases)
    for run in range(runs):
        # Alternate the order so that neither side always runs on a warmer machine.
        for label in labels if run % 2 == 0 else reversed(labels):
            module, env = cases[label]
            wall_ms, cpu_ms = import_ms(python, path, module, env)
            wall[label].append(wall_ms)
            cpu[label].append(cpu_ms)
    make_writable(task_root)

    print(f"cold start: import in a fresh Python 3.13, code folder read-only, {runs} runs each")
    print(f"  {'median (min-max)':<42} {'wall clock':<26} CPU time")
    for label in labels:
        figures = [
            f"{median_ms(samples[label])} {ratio(samples, label, labels[0]):.2f}x"
            for samples in (wall, cpu)
        ]
        print(f"  {label:<42} {figures[0]:<26} {figures[1]}")


def ratio(samples: dict[str, list[float]], label: str, baseline: str) -> float:
    return statistics.median(samples[label]) / statistics.median(samples[baseline])


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
                "TABLE_PARAMETER": ParameterNames.TABLE_NAME,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--localstack-runs", type=int, default=5)
    parser.add_argument("--skip-localstack", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold-start-") as folder:
        work = Path(folder)
        asset = synth_asset(work / "cdk.out")
        print(f"function asset: {asset_size(asset.path)}")
        import_benchmark(asset, args.runs, work)
    if not args.skip_localstack:
        localstack_benchmark(args.localstack_runs)


if __name__ == "__main__":
    main()
