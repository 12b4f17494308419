"""Where LocalStack runs: in Docker where a daemon answers, else on the host, or external.

LOCALSTACK_MODE=docker|host|external overrides the automatic choice; external uses the
endpoint in LOCALSTACK_ENDPOINT, already running.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from enum import StrEnum


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


def select_mode(
    environ: Mapping[str, str], docker_available: Callable[[], bool] = docker_daemon_answers
) -> Mode:
    requested = environ.get("LOCALSTACK_MODE", "").strip().lower() or "auto"
    if requested == "auto":
        return Mode.DOCKER if docker_available() else Mode.HOST
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
    return mode
