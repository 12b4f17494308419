"""The e2e session: a fresh LocalStack (Docker, host or external), the stack deployed into it.

Nothing here skips: if LocalStack cannot start or the deploy fails, every test errors with
the reason and the tail of LocalStack's log. Docker mode goes through pytest-docker's
fixtures (e2e/harness/compose.py); host and external modes through the harness.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.api_client import Api
from e2e.harness import host
from e2e.harness.compose import (  # noqa: F401 - pytest-docker's fixtures, set for this project
    docker_cleanup,
    docker_compose_command,
    docker_compose_file,
    docker_compose_project_name,
    docker_localstack,
    docker_setup,
    localstack_container_log,
    localstack_host_port,
    localstack_image_name,
)
from e2e.harness.deploy import aws_client, deploy
from e2e.harness.deployment import Deployment
from e2e.harness.modes import HarnessError, Mode, select_mode
from e2e.harness.paths import E2E_DIR, E2E_TIMINGS_FILE
from e2e.harness.session import LocalStack, start_localstack
from e2e.least_privilege.reports import REPORTS_WRITTEN

# Phase timings of the session, for bench/run.py: start, bootstrap, deploy, stop.
TIMINGS: dict[str, float] = {}
# When the session's LocalStack began to stop: in Docker mode its `down -v` is pytest-docker's
# cleanup, which runs after the `localstack` fixture's, so "stop" is taken at the session's end.
STOPPING: list[float] = []


def pytest_configure(config: pytest.Config) -> None:
    # A mode that cannot run (e.g. Docker without Compose v2) ends the run once, in one
    # sentence, instead of erroring every test.
    try:
        select_mode(os.environ)
    except HarnessError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Fault injection runs after the other tests, so none meets a stalled or restarted
    # dependency; the audits run last of all, as they judge what the whole session did.
    items.sort(
        key=lambda item: (
            item.get_closest_marker("audit") is not None,
            item.get_closest_marker("disruptive") is not None,
        )
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if STOPPING:
        TIMINGS["stop"] = time.monotonic() - STOPPING[0]
    if TIMINGS:
        E2E_TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
        E2E_TIMINGS_FILE.write_text(json.dumps(TIMINGS, indent=2))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # The least-privilege tables this session wrote (docs/least-privilege.md), in full.
    for report in REPORTS_WRITTEN:
        terminalreporter.write_sep("=", f"{report.name} (kept as a CI artifact)")
        terminalreporter.write_line(report.read_text())


@pytest.fixture(scope="session")
def localstack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    """LocalStack for the whole session. In host mode a `HostLocalStack` (its `pid`: the fault
    tests find DynamoDB Local below it); in Docker mode a `ComposeLocalStack` (its
    `container()`: the fault tests signal DynamoDB Local inside it with `docker exec`)."""
    mode = select_mode(os.environ)
    print(f"\nLocalStack mode: {mode}")
    started = time.monotonic()
    instance: LocalStack
    if mode is Mode.DOCKER:
        # One `up --wait` and one `down -v` per session, the down also after a failed up.
        instance = request.getfixturevalue("docker_localstack")
    else:
        # Its own port and state folder: `make local` may be up beside it.
        instance = start_localstack(
            mode,
            host.free_port(),
            state_dir=E2E_DIR / "state",
            endpoint=os.environ.get("LOCALSTACK_ENDPOINT"),
        )
    TIMINGS["start"] = time.monotonic() - started
    try:
        yield instance
    finally:
        STOPPING.append(time.monotonic())
        instance.stop()


@pytest.fixture(scope="session")
def deployment(localstack: LocalStack) -> Deployment:
    try:
        deployed = deploy(localstack.endpoint, E2E_DIR)
    except HarnessError as error:
        # Every test that needs the stack reports this, LocalStack's side included.
        raise HarnessError(f"{error}\n{localstack.log_tail(80)}") from error
    TIMINGS.update(deployed.timings)
    return deployed


@pytest.fixture(scope="session")
def api(deployment: Deployment) -> Api:
    return Api(deployment.api_url)


@pytest.fixture(scope="session")
def aws(deployment: Deployment) -> Any:
    """boto3 clients on LocalStack: `aws("dynamodb").describe_table(...)`."""
    return lambda service: aws_client(service, deployment.endpoint)
