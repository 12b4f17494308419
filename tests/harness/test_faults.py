"""Docker mode's fault injection: signals sent with `docker exec` inside LocalStack's container,
checked against a fake `docker` whose `exec` runs the script on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.faults import ContainerProcess, kill, stalled

FAKE_DOCKER = """#!/bin/sh
# docker exec CONTAINER sh -c SCRIPT: the script runs here; each call is logged.
echo "$*" >> "$FAKE_DOCKER_LOG"
[ "$1" = exec ] || exit 2
shift 2
exec "$@"
"""


@pytest.fixture
def docker_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "docker").write_text(FAKE_DOCKER)
    (tmp_path / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "calls"))
    return tmp_path / "calls"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]


def settled_state(pid: int, expected: str) -> str:
    """The process's state once it is `expected`, or after 5 s (a signal lands asynchronously)."""
    deadline = time.monotonic() + 5
    while state(pid) not in expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return state(pid)


def test_a_stall_stops_the_process_in_the_container_and_always_resumes_it(
    docker_log: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    process = ContainerProcess("users-api-e2e-1-localstack-1", sleeper.pid)
    seen: list[str] = []

    def fails_while_stalled() -> None:
        with stalled(process):
            seen.append(settled_state(sleeper.pid, "T"))
            raise RuntimeError("a failure in the block")

    with pytest.raises(RuntimeError, match="in the block"):
        fails_while_stalled()
    assert seen == ["T"]
    assert settled_state(sleeper.pid, "SR") in "SR"
    calls = docker_log.read_text().splitlines()
    assert calls == [
        f"exec users-api-e2e-1-localstack-1 sh -c kill -STOP {sleeper.pid}",
        f"exec users-api-e2e-1-localstack-1 sh -c kill -CONT {sleeper.pid}",
    ]


def test_a_kill_waits_until_the_process_is_gone(
    docker_log: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    process = ContainerProcess("c", sleeper.pid)
    assert not process.gone()
    kill(process)
    # A zombie until its parent reaps it: gone as a server
    assert process.gone()
    sleeper.wait(timeout=5)
    assert process.gone()
