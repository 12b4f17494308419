"""The Docker mode's compose settings, checked without a Docker engine."""

from __future__ import annotations

import re
from typing import Any

import yaml

from e2e.harness.docker import COMPOSE_FILE, SERVICE, compose_environment
from e2e.harness.session import COMPOSE_PROJECT, LOCALSTACK_SETTINGS


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def localstack_service() -> dict[str, Any]:
    return dict(compose()["services"][SERVICE])


def test_a_manual_compose_up_uses_the_projects_name_and_network() -> None:
    # The network's default name is `<project>_default`: both must agree without the harness.
    assert compose()["name"] == COMPOSE_PROJECT
    network = localstack_service()["environment"]["LAMBDA_DOCKER_NETWORK"]
    assert network.endswith(f":-{COMPOSE_PROJECT}_default}}")


def test_image_is_pinned_to_the_last_release_without_an_auth_token() -> None:
    image = localstack_service()["image"]
    assert image == "${LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}"


def test_healthcheck_lets_compose_wait_for_readiness() -> None:
    healthcheck = localstack_service()["healthcheck"]
    assert "/_localstack/health" in " ".join(healthcheck["test"])


def test_lambda_containers_join_the_projects_network() -> None:
    service = localstack_service()
    assert "/var/run/docker.sock:/var/run/docker.sock" in service["volumes"]
    network = service["environment"]["LAMBDA_DOCKER_NETWORK"]
    variable = re.fullmatch(r"\$\{(\w+):-[\w-]+\}", network)
    assert variable is not None
    # Given a per-run project name, the harness points Lambda at that project's network
    environment = compose_environment("pytest1234", 45123, {})
    assert environment[variable.group(1)] == "pytest1234_default"


def test_port_is_published_on_loopback_only() -> None:
    (port,) = localstack_service()["ports"]
    assert port.startswith("127.0.0.1:${LOCALSTACK_PORT")
    assert compose_environment("p", 45123, {})["LOCALSTACK_PORT"] == "45123"


def test_every_harness_setting_reaches_the_container() -> None:
    environment = localstack_service()["environment"]
    for key, value in LOCALSTACK_SETTINGS.items():
        assert environment[key] == f"${{{key}:-{value}}}"
    assert compose_environment("p", 1, LOCALSTACK_SETTINGS).items() >= LOCALSTACK_SETTINGS.items()
