"""LocalStack in Docker through docker compose (the pinned image, see docker-compose.yml)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from e2e.harness.modes import HarnessError
from e2e.harness.paths import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SERVICE = "localstack"


def compose_environment(project: str, port: int, settings: dict[str, str]) -> dict[str, str]:
    """The variables docker-compose.yml reads, for a project name and a host port."""
    return {
        "LOCALSTACK_PORT": str(port),
        # docker compose names a project's default network `<project>_default`.
        "LOCALSTACK_DOCKER_NETWORK": f"{project}_default",
        **settings,
    }


@dataclass
class DockerLocalStack:
    project: str
    port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """`docker compose up --wait`: returns once the healthcheck passes."""
        try:
            self._compose("up", "--detach", "--wait")
        except subprocess.CalledProcessError as error:
            logs = self.log_tail()
            self.stop()
            raise HarnessError(f"docker compose up failed:\n{error.stderr}\n{logs}") from error

    def log_tail(self, lines: int = 40) -> str:
        result = self._compose("logs", "--no-color", "--tail", str(lines), SERVICE, check=False)
        return result.stdout

    def stop(self) -> None:
        self._compose("down", "--volumes", "--remove-orphans", check=False)

    def _compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "-f", str(COMPOSE_FILE), "-p", self.project, *args]
        return subprocess.run(
            command, capture_output=True, text=True, check=check, env={**os.environ, **self.env}
        )


def start(project: str, port: int, settings: dict[str, str]) -> DockerLocalStack:
    localstack = DockerLocalStack(project, port, compose_environment(project, port, settings))
    localstack.up()
    return localstack
