"""Where LocalStack runs: the automatic choice and its overrides (no Docker needed)."""

from __future__ import annotations

import pytest

from e2e.harness.modes import HarnessError, Mode, select_mode


def answers() -> bool:
    return True


def silent() -> bool:
    return False


def test_automatic_mode_uses_docker_when_a_daemon_answers() -> None:
    assert select_mode({}, docker_available=answers) is Mode.DOCKER


def test_automatic_mode_runs_on_the_host_without_a_daemon() -> None:
    assert select_mode({}, docker_available=silent) is Mode.HOST
    assert select_mode({"LOCALSTACK_MODE": "auto"}, docker_available=silent) is Mode.HOST


def test_host_mode_can_be_forced_even_with_docker() -> None:
    assert select_mode({"LOCALSTACK_MODE": "host"}, docker_available=answers) is Mode.HOST


def test_docker_mode_without_a_daemon_fails_saying_why() -> None:
    with pytest.raises(HarnessError, match="no Docker daemon answers"):
        select_mode({"LOCALSTACK_MODE": "docker"}, docker_available=silent)


def test_external_mode_needs_an_endpoint() -> None:
    with pytest.raises(HarnessError, match="needs LOCALSTACK_ENDPOINT"):
        select_mode({"LOCALSTACK_MODE": "external"}, docker_available=silent)
    environ = {"LOCALSTACK_MODE": "External", "LOCALSTACK_ENDPOINT": "http://127.0.0.1:4566"}
    assert select_mode(environ, docker_available=silent) is Mode.EXTERNAL


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(HarnessError, match="'kubernetes' is not one of"):
        select_mode({"LOCALSTACK_MODE": "kubernetes"}, docker_available=answers)
