"""The e2e session: a fresh LocalStack (Docker, host or external), the stack deployed into it.

Nothing here skips: if LocalStack cannot start or the deploy fails, every test errors with
the reason and the tail of LocalStack's log.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.harness import docker, host
from e2e.harness.deploy import aws_client, deploy
from e2e.harness.deployment import Deployment
from e2e.harness.modes import Mode, select_mode
from e2e.harness.session import (
    COMPOSE_PROJECT,
    LOCALSTACK_SETTINGS,
    STATE_ROOT,
    LocalStack,
    start_localstack,
)

WORK_DIR = STATE_ROOT / "e2e"
# Phase timings of the session, written for bench/run.py: start, bootstrap, deploy, stop.
TIMINGS_FILE = WORK_DIR / "timings.json"
TIMINGS: dict[str, float] = {}


def pytest_sessionfinish(session: pytest.Session) -> None:
    if TIMINGS:
        TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
        TIMINGS_FILE.write_text(json.dumps(TIMINGS, indent=2))


@pytest.fixture(scope="session")
def localstack_mode() -> Mode:
    return select_mode(os.environ)


# pytest-docker's fixtures, used in Docker mode only.
@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(docker.COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"{COMPOSE_PROJECT}-e2e-{os.getpid()}"


@pytest.fixture(scope="session")
def localstack(
    request: pytest.FixtureRequest, localstack_mode: Mode, docker_compose_project_name: str
) -> Iterator[LocalStack]:
    port = host.free_port()
    print(f"\nLocalStack mode: {localstack_mode}")
    if localstack_mode is Mode.DOCKER:
        # pytest-docker runs `docker compose up --wait` and `down -v` around the session.
        os.environ.update(
            docker.compose_environment(docker_compose_project_name, port, LOCALSTACK_SETTINGS)
        )
        services = request.getfixturevalue("docker_services")
        port = services.port_for(docker.SERVICE, 4566)
        yield docker.DockerLocalStack(docker_compose_project_name, port)
        return
    started = time.monotonic()
    instance = start_localstack(
        localstack_mode, port, endpoint=os.environ.get("LOCALSTACK_ENDPOINT")
    )
    TIMINGS["start"] = time.monotonic() - started
    try:
        yield instance
    finally:
        stopping = time.monotonic()
        instance.stop()
        TIMINGS["stop"] = time.monotonic() - stopping


@pytest.fixture(scope="session")
def deployment(localstack: LocalStack) -> Deployment:
    try:
        deployed = deploy(localstack.endpoint, WORK_DIR)
    except Exception:
        print(localstack.log_tail(80))
        raise
    TIMINGS.update(deployed.timings)
    return deployed


@pytest.fixture(scope="session")
def api_url(deployment: Deployment) -> str:
    return deployment.api_url


@pytest.fixture(scope="session")
def aws(deployment: Deployment) -> Any:
    """boto3 clients on LocalStack: `aws("dynamodb").describe_table(...)`."""
    return lambda service: aws_client(service, deployment.endpoint)
