"""LocalStack in Docker through Docker Compose v2 (docker-compose.yml), for `make local`.

The e2e suite goes through pytest-docker's fixtures instead (e2e/harness/compose.py); both
take the compose variables and the image from here.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from e2e.harness.image import localstack_image
from e2e.harness.modes import COMPOSE_MISSING, HarnessError, compose_command
from e2e.harness.paths import HOT_RELOAD_ROOT, REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SERVICE = "localstack"


def compose_environment(
    project: str, port: int, settings: dict[str, str], image: str | None = None
) -> dict[str, str]:
    """The variables docker-compose.yml reads, for a project name and a host port."""
    HOT_RELOAD_ROOT.mkdir(parents=True, exist_ok=True)
    variables = {
        "LOCALSTACK_PORT": str(port),
        # docker compose names a project's default network `<project>_default`.
        "LOCALSTACK_DOCKER_NETWORK": f"{project}_default",
        # `make watch`'s code folders, mounted at the same path: LocalStack reads the path the
        # function's S3Key names (and hands it on to a Lambda container, with the official image).
        "LOCALSTACK_HOT_RELOAD_DIR": str(HOT_RELOAD_ROOT),
        **settings,
    }
    if image:
        variables["LOCALSTACK_IMAGE"] = image
    return variables


def compose() -> list[str]:
    """The Compose v2 command, or one sentence saying how to get it."""
    command = compose_command()
    if command is None:
        raise HarnessError(COMPOSE_MISSING)
    return command


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
        except BaseException:
            self.stop()  # Ctrl-C during the start: nothing is left running
            raise

    def has_containers(self) -> bool:
        return bool(self._compose("ps", "--all", "--quiet", check=False).stdout.strip())

    def container(self) -> str:
        return self._compose("ps", "--all", "--quiet", SERVICE, check=False).stdout.strip()

    def log_tail(self, lines: int = 40) -> str:
        result = self._compose("logs", "--no-color", "--tail", str(lines), SERVICE, check=False)
        return result.stdout

    def stop(self) -> None:
        self._compose("down", "--volumes", "--remove-orphans", check=False)

    def _compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*compose(), "-f", str(COMPOSE_FILE), "-p", self.project, *args]
        return subprocess.run(
            command, capture_output=True, text=True, check=check, env={**os.environ, **self.env}
        )


def take_down_stale(project: str, log: Callable[[str], None] = print) -> None:
    """A compose project of this name left running (e.g. by a `make local` whose record is
    gone) would hold the port and the name: it goes first."""
    stale = DockerLocalStack(project, 0)
    if stale.has_containers():
        log(f"Taking down the stale compose project {project} ...")
        stale.stop()


def start(project: str, port: int, settings: dict[str, str]) -> DockerLocalStack:
    image = localstack_image(os.environ)
    localstack = DockerLocalStack(
        project, port, compose_environment(project, port, settings, image)
    )
    localstack.up()
    return localstack
