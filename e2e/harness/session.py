"""Starts LocalStack in the selected mode; one interface whatever runs it."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from e2e.harness import docker, host
from e2e.harness.modes import HarnessError, Mode

DEFAULT_PORT = 4566
COMPOSE_PROJECT = "users-api"

# The same in every mode. Without boto retries LocalStack's internal Lambda client sheds an
# invocation beyond the reserved concurrency at once instead of retrying it for ~15 s.
LOCALSTACK_SETTINGS = {
    "DISABLE_BOTO_RETRIES": "1",
    "LAMBDA_KEEPALIVE_MS": "60000",
}


class LocalStack(Protocol):
    @property
    def endpoint(self) -> str: ...

    def log_tail(self, lines: int = 40) -> str: ...

    def stop(self) -> None: ...


@dataclass
class ExternalLocalStack:
    """A LocalStack someone else started; never stopped by us."""

    endpoint: str

    def log_tail(self, lines: int = 40) -> str:
        return f"(external LocalStack at {self.endpoint}: read its own logs)"

    def stop(self) -> None:
        return None


def start_localstack(
    mode: Mode,
    port: int,
    *,
    name: str = COMPOSE_PROJECT,
    state_dir: Path | None = None,
    endpoint: str | None = None,
) -> LocalStack:
    """A fresh LocalStack. `name` is the compose project (Docker), `state_dir` the host's
    state folder, so that `make local` and an e2e session can run side by side."""
    if mode is Mode.HOST:
        # A LocalStack left with this state by a killed session is stopped, not refused.
        return host.start(port, state_dir, extra_env=LOCALSTACK_SETTINGS, reclaim_orphan=True)
    if mode is Mode.DOCKER:
        return docker.start(name, port, LOCALSTACK_SETTINGS)
    if not endpoint:
        raise HarnessError("external mode needs LOCALSTACK_ENDPOINT")
    external = ExternalLocalStack(endpoint.rstrip("/"))
    check_health(external.endpoint)
    return external


def check_health(endpoint: str) -> None:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=5) as response:
            json.loads(response.read())
    except (OSError, ValueError) as error:
        raise HarnessError(f"LocalStack at {endpoint} does not answer: {error}") from error
