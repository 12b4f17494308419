"""The e2e session: a fresh LocalStack (Docker, host or external), the stack deployed into it.

Nothing here skips: if LocalStack cannot start or the deploy fails, every test errors with
the reason and the tail of LocalStack's log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.harness import docker, host
from e2e.harness.deploy import Deployment, aws_client, deploy
from e2e.harness.modes import Mode, select_mode
from e2e.harness.session import (
    COMPOSE_PROJECT,
    LOCALSTACK_SETTINGS,
    STATE_ROOT,
    LocalStack,
    start_localstack,
)

WORK_DIR = STATE_ROOT / "e2e"


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
    instance = start_localstack(
        localstack_mode, port, endpoint=os.environ.get("LOCALSTACK_ENDPOINT")
    )
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def deployment(localstack: LocalStack) -> Deployment:
    try:
        return deploy(localstack.endpoint, WORK_DIR)
    except Exception:
        print(localstack.log_tail(80))
        raise


@pytest.fixture(scope="session")
def api_url(deployment: Deployment) -> str:
    return deployment.api_url


@pytest.fixture(scope="session")
def aws(deployment: Deployment) -> Any:
    """boto3 clients on LocalStack: `aws("dynamodb").describe_table(...)`."""
    return lambda service: aws_client(service, deployment.endpoint)
