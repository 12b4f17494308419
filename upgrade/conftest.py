"""The upgrade suite: each supported release is deployed into a fresh LocalStack, users are written
through its API, and the working tree is deployed over it. `UPGRADE_FROM=<ref>[,<ref>…]` picks the
releases; by default every one in `upgrade/releases.txt`.

One LocalStack a release, started and stopped by the `upgrade` fixture. Nothing skips: a release
that cannot be checked out, installed or deployed errors every test of it, with the reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from e2e.api_client import Api
from e2e.harness import host, releases
from e2e.harness.deploy import aws_client, deploy
from e2e.harness.deployment import Deployment, execute_api_url
from e2e.harness.modes import HarnessError, select_mode
from e2e.harness.paths import STATE_ROOT
from e2e.harness.session import LocalStack, start_localstack
from upgrade.data import WrittenData, write_data

UPGRADE_DIR = STATE_ROOT / "upgrade"
# Resources whose physical id is the data or the address users hold: an upgrade keeps each one.
KEPT_RESOURCE_TYPES = (
    "AWS::ApiGateway::RestApi",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::SNS::Topic",
)
# Phase timings of each release's upgrade, printed at the end of the session.
TIMINGS: dict[str, dict[str, float]] = {}


@dataclass
class Upgrade:
    release: releases.Release
    localstack: LocalStack
    old_outputs: dict[str, str]
    old_resources: dict[str, tuple[str, str]]  # logical id -> (type, physical id)
    data: WrittenData
    deployment: Deployment
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def api(self) -> Api:
        return Api(self.deployment.api_url)

    def aws(self, service: str) -> Any:
        return aws_client(service, self.localstack.endpoint)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "release_ref" in metafunc.fixturenames:
        refs = releases.requested_releases(os.environ)
        metafunc.parametrize("release_ref", refs, scope="module", ids=refs)


def stack_resources(endpoint: str, stack_name: str) -> dict[str, tuple[str, str]]:
    listed = aws_client("cloudformation", endpoint).describe_stack_resources(StackName=stack_name)
    return {
        resource["LogicalResourceId"]: (resource["ResourceType"], resource["PhysicalResourceId"])
        for resource in listed["StackResources"]
    }


@pytest.fixture(scope="module")
def upgrade(release_ref: str) -> Iterator[Upgrade]:
    timings: dict[str, float] = {}
    TIMINGS[release_ref] = timings

    def phase(name: str, started: float) -> None:
        timings[name] = time.monotonic() - started

    started = time.monotonic()
    release = releases.checkout(release_ref)
    releases.install(release)
    phase("checkout and install", started)

    started = time.monotonic()
    work_dir = UPGRADE_DIR / release.short
    localstack = start_localstack(
        select_mode(os.environ),
        host.free_port(),
        name=f"users-api-upgrade-{release.short}",
        state_dir=work_dir / "state",
        endpoint=os.environ.get("LOCALSTACK_ENDPOINT"),
    )
    phase("start LocalStack", started)
    try:
        started = time.monotonic()
        old_outputs = releases.deploy(release, localstack.endpoint, work_dir / "release")
        phase(f"deploy {release.short}", started)

        started = time.monotonic()
        (stack_name,) = _stack_names(localstack.endpoint)
        old_resources = stack_resources(localstack.endpoint, stack_name)
        old_api = Api(execute_api_url(localstack.endpoint, old_outputs), check_contract=False)
        data = write_data(old_api)
        phase("write data", started)

        started = time.monotonic()
        deployment = deploy(localstack.endpoint, work_dir / "working-tree")
        phase("deploy the working tree over it", started)
        yield Upgrade(release, localstack, old_outputs, old_resources, data, deployment, timings)
    except HarnessError as error:
        raise HarnessError(f"{error}\n{localstack.log_tail(60)}") from error
    finally:
        started = time.monotonic()
        localstack.stop()
        phase("stop", started)


def _stack_names(endpoint: str) -> list[str]:
    stacks = aws_client("cloudformation", endpoint).describe_stacks()["Stacks"]
    return [stack["StackName"] for stack in stacks if stack["StackName"] != "CDKToolkit"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for ref, timings in TIMINGS.items():
        terminalreporter.write_line(f"Upgrade from {ref}: time of each phase")
        for name, seconds in timings.items():
            terminalreporter.write_line(f"  {name:<34} {seconds:7.1f} s")
