"""Deploys the stack into LocalStack with cdklocal and reads back what the tests need."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from e2e.harness.deployment import Deployment, execute_api_url
from e2e.harness.modes import HarnessError
from e2e.harness.parity import apply_parity_steps
from e2e.harness.paths import REPO_ROOT
from infra.names import stack_name

CDKLOCAL = REPO_ROOT / "node_modules" / ".bin" / "cdklocal"
ACCOUNT = "000000000000"
REGION = "us-east-1"
ENVIRONMENT = "dev"
# Short, so that the e2e suite sees a changed parameter within seconds.
CONFIG_TTL_SECONDS = 2


def aws_environment(endpoint: str) -> dict[str, str]:
    """Variables that point the AWS CLIs and SDKs at LocalStack, offline."""
    return {
        # localhost.localstack.cloud does not resolve without a network: use the address.
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        # cdklocal strips AWS_* variables except these and AWS_ENDPOINT_URL*.
        "AWS_ENVAR_ALLOWLIST": ",".join(
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION")
        ),
        "CDK_DEFAULT_ACCOUNT": ACCOUNT,
        "CDK_DEFAULT_REGION": REGION,
        # jsii warns on Node 20 (supported: 22 and 24); this is the variable it reads for it.
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "1",
    }


def aws_client(service: str, endpoint: str) -> Any:
    """A boto3 client on LocalStack with its test credentials."""
    import boto3

    make_client: Any = boto3.client  # typed per service; these helpers take any
    return make_client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def deploy(endpoint: str, work_dir: Path, log: Any = print, *, update: bool = False) -> Deployment:
    """Bootstrap, deploy and apply the parity step; `work_dir` receives cdk.out and outputs.

    `update`: the stack is already deployed there (a re-run of `make local`): no bootstrap,
    and a code-only change goes through CDK's hotswap (falling back to CloudFormation).
    """
    if not CDKLOCAL.exists():
        raise HarnessError(f"{CDKLOCAL} is missing: run `npm ci` (or `make install`) first")
    env = {**os.environ, **aws_environment(endpoint)}
    name = stack_name(ENVIRONMENT)
    cloud_assembly = work_dir / "cdk.out"
    outputs_file = work_dir / "outputs.json"
    timings: dict[str, float] = {}

    # Bootstrapping from a folder without cdk.json skips a pointless synth of the app.
    bootstrap_dir = work_dir / "bootstrap"
    bootstrap_dir.mkdir(parents=True, exist_ok=True)
    if not update:
        timings["bootstrap"] = _timed(
            log,
            "Bootstrapping the CDK toolkit",
            [str(CDKLOCAL), "bootstrap", f"aws://{ACCOUNT}/{REGION}"],
            cwd=bootstrap_dir,
            env=env,
        )
    updating = stack_status(endpoint, name) is not None
    try:
        timings["deploy"] = _timed(
            log,
            f"Deploying what changed in {name}" if update else f"Deploying {name}",
            [
                str(CDKLOCAL),
                "deploy",
                name,
                "--app",
                f"{sys.executable} main.py",
                "--output",
                str(cloud_assembly),
                "--outputs-file",
                str(outputs_file),
                "--require-approval",
                "never",
                "--progress",
                "events",
                "-c",
                f"environment={ENVIRONMENT}",
                "-c",
                f"configTtlSeconds={CONFIG_TTL_SECONDS}",
                *(["--hotswap-fallback"] if update else []),
            ],
            cwd=REPO_ROOT,
            env=env,
        )
    except HarnessError as error:
        if report := rollback_report(endpoint, name, updating=updating):
            raise HarnessError(f"{report}\n\n{error}") from error
        raise
    outputs = json.loads(outputs_file.read_text())[name]
    template = json.loads((cloud_assembly / f"{name}.template.json").read_text())
    deployment = Deployment(endpoint, name, outputs, template, timings)
    apply_parity_steps(deployment, lambda service: aws_client(service, endpoint), log)
    return deployment


def _described(endpoint: str, name: str) -> dict[str, Any] | None:
    """The stack as LocalStack describes it, or None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        stacks = aws_client("cloudformation", endpoint).describe_stacks(StackName=name)
    except ClientError:
        return None
    return dict(stacks["Stacks"][0])


def stack_status(endpoint: str, name: str) -> str | None:
    """The stack's status in LocalStack, or None when it does not exist."""
    stack = _described(endpoint, name)
    return None if stack is None else str(stack["StackStatus"])


def rollback_report(endpoint: str, name: str, *, updating: bool) -> str | None:
    """What a failed deploy left behind, in one sentence; None when nothing was rolled back."""
    stack = _described(endpoint, name)
    if stack is None or "ROLLBACK" not in stack["StackStatus"]:
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    health = f"{execute_api_url(endpoint, outputs)}/"
    return rollback_sentence(
        name, str(stack["StackStatus"]), health, updating=updating, serving=_answers(health)
    )


def rollback_sentence(name: str, status: str, health: str, *, updating: bool, serving: bool) -> str:
    """Is the release before still serving after the rollback, and what to do."""
    if not updating:
        return (
            f"The first deploy of {name} failed and was rolled back ({status}): "
            "fix the cause below, then run the command again (it deploys from scratch)."
        )
    if serving:
        return (
            f"The update of {name} failed and was rolled back ({status}); the release before "
            f"it still answers at {health}: fix the cause below and deploy again."
        )
    return (
        f"The update of {name} failed and LocalStack's rollback ({status}) left its API "
        f"answering nothing at {health}: fix the cause below, then start from a fresh LocalStack "
        "(`make local-down`, then `make local`)."
    )


def _answers(url: str) -> bool:
    """True when the API itself answers (its health route), not API Gateway's 404."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as error:
        return error.code == 503  # the health route answering that a dependency is down
    except OSError:
        return False


def _timed(log: Any, what: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> float:
    log(f"{what} ...")
    started = time.monotonic()
    returncode, stdout, stderr = run_quietly(command, cwd=cwd, env=env)
    elapsed = time.monotonic() - started
    if returncode != 0:
        raise HarnessError(
            f"{what} failed (exit {returncode}) after {elapsed:.1f}s:\n"
            f"{stdout[-4000:]}\n{stderr[-4000:]}"
        )
    log(f"{what}: done in {elapsed:.1f}s")
    return elapsed


def run_quietly(command: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `command` in a session of its own, output captured.

    A Ctrl-C in the terminal then reaches only the harness, which ends the command's whole
    group itself: no traceback from the CDK app or jsii, no process left behind.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        _end_group(process)
        raise
    return process.returncode, stdout, stderr


def _end_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
    process.wait()
