"""Docker mode's session wiring (pytest-docker + e2e/harness/compose.py) against a fake
`docker`: an inner pytest session runs with it first on PATH and the fake logs each call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from e2e.harness.paths import HOT_RELOAD_ROOT, REPO_ROOT

# `docker compose ...` as the fixtures call it. `up` starts a loopback HTTP server that answers
# /_localstack/health on LOCALSTACK_PORT (unless FAKE_UP_FAILS is set), `port` answers that
# port, `logs` prints a line, `down` stops the server.
FAKE_DOCKER = """
import json, os, subprocess, sys
from pathlib import Path

args = sys.argv[1:]
work = Path(os.environ["FAKE_DOCKER_DIR"])
if args[:1] == ["info"]:
    print("27.0.0"); sys.exit(0)
assert args[0] == "compose", args
if args[1:] == ["version"]:  # the harness asks for Compose v2 before using it
    print("Docker Compose version v2.40.3"); sys.exit(0)
files, project, rest, i = [], None, [], 1
while i < len(args):
    if args[i] == "-f":
        files.append(args[i + 1]); i += 2
    elif args[i] == "-p":
        project = args[i + 1]; i += 2
    else:
        rest.append(args[i]); i += 1
keys = (
    "LOCALSTACK_PORT", "LOCALSTACK_DOCKER_NETWORK", "DISABLE_BOTO_RETRIES", "LOCALSTACK_IMAGE",
    "LOCALSTACK_HOT_RELOAD_DIR",
)
with open(work / "calls.jsonl", "a") as log:
    env = {k: os.environ.get(k) for k in keys}
    log.write(json.dumps({"files": files, "project": project, "args": rest, "env": env}) + "\\n")
command = rest[0]
if command == "up":
    if os.environ.get("FAKE_UP_FAILS"):
        print("container localstack-1 is unhealthy", file=sys.stderr); sys.exit(1)
    site = work / "site" / "_localstack"
    site.mkdir(parents=True, exist_ok=True)
    (site / "health").write_text("{}")
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", os.environ["LOCALSTACK_PORT"],
         "--bind", "127.0.0.1", "--directory", str(work / "site")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    (work / "server.pid").write_text(str(server.pid))
elif command == "port":
    print(f"127.0.0.1:{os.environ['LOCALSTACK_PORT']}")
elif command == "logs":
    print("localstack-1  | fake LocalStack log line")
elif command == "down":
    pid_file = work / "server.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), 15)
        pid_file.unlink()
"""

INNER_CONFTEST = """
import os
from pathlib import Path
import pytest
from e2e.harness.compose import (  # noqa: F401
    docker_cleanup, docker_compose_command, docker_compose_file, docker_compose_project_name,
    docker_localstack, docker_setup, localstack_host_port, localstack_image_name,
)

@pytest.fixture(scope="session")
def localstack_container_log():
    return Path(os.environ["FAKE_DOCKER_DIR"]) / "container.log"
"""

INNER_TESTS = """
import json, urllib.request

def test_one(docker_localstack):
    with urllib.request.urlopen(docker_localstack.endpoint + "/_localstack/health") as r:
        assert json.loads(r.read()) == {}

def test_two(docker_localstack, localstack_host_port):
    assert docker_localstack.endpoint == f"http://127.0.0.1:{localstack_host_port}"
    print("PORT", localstack_host_port)
"""


def run_inner_session(
    tmp_path: Path, **extra_env: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    docker.chmod(0o755)
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(textwrap.dedent(INNER_CONFTEST))
    (suite / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_DOCKER_DIR": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        # The caller's own port for `make local` must not leak into the session's compose.
        "LOCALSTACK_PORT": "4566",
        # Chosen by the caller: no pull, no build.
        "LOCALSTACK_IMAGE": "example/localstack:test",
        **extra_env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(suite),
         "--rootdir", str(suite)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    calls_file = tmp_path / "calls.jsonl"
    calls = (
        [json.loads(line) for line in calls_file.read_text().splitlines()]
        if calls_file.exists()
        else []
    )
    return result, calls


def commands(calls: list[dict[str, Any]]) -> list[str]:
    return [" ".join(call["args"]) for call in calls]


def test_a_session_runs_one_up_and_one_down_for_all_its_tests(tmp_path: Path) -> None:
    result, calls = run_inner_session(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    ran = commands(calls)
    assert ran.count("up --detach --wait") == 1
    assert ran.count("down -v --remove-orphans") == 1
    assert ran[0] == "up --detach --wait"
    assert ran[-1] == "down -v --remove-orphans"
    # The container's log is kept before `down -v` removes it
    assert ran[-2] == "logs --no-color localstack"
    assert "fake LocalStack log line" in (tmp_path / "container.log").read_text()


def test_the_session_has_its_own_project_port_and_lambda_network(tmp_path: Path) -> None:
    result, calls = run_inner_session(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    port = next(line.split()[-1] for line in result.stdout.splitlines() if "PORT" in line)
    projects = {call["project"] for call in calls}
    (project,) = projects
    assert project.startswith("users-api-e2e-")
    assert all(call["files"] == [str(REPO_ROOT / "docker-compose.yml")] for call in calls)
    for call in calls:
        assert call["env"]["LOCALSTACK_PORT"] == port != "4566"
        # Lambda containers join the project's own network, named by compose after it.
        assert call["env"]["LOCALSTACK_DOCKER_NETWORK"] == f"{project}_default"
        assert call["env"]["DISABLE_BOTO_RETRIES"] == "1"
        assert call["env"]["LOCALSTACK_IMAGE"] == "example/localstack:test"
        # `make watch`'s folders reach the container at the same path
        assert call["env"]["LOCALSTACK_HOT_RELOAD_DIR"] == str(HOT_RELOAD_ROOT)


def test_a_failed_up_still_runs_down_and_reports_the_containers_log(tmp_path: Path) -> None:
    result, calls = run_inner_session(tmp_path, FAKE_UP_FAILS="1")
    assert result.returncode != 0
    ran = commands(calls)
    assert ran.count("up --detach --wait") == 1  # not retried for the second test
    assert ran[-1] == "down -v --remove-orphans"
    output = result.stdout + result.stderr
    assert "docker compose up failed" in output
    assert "container localstack-1 is unhealthy" in output
    assert "fake LocalStack log line" in output
    assert "fake LocalStack log line" in (tmp_path / "container.log").read_text()
