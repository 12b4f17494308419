"""`make local`'s lifecycle: busy port, stale session, re-run, Ctrl-C (no LocalStack needed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e.harness import __main__ as cli
from e2e.harness import host, local
from e2e.harness.deployment import Deployment
from e2e.harness.modes import HarnessError
from e2e.harness.processes import pid_alive
from tests.harness.fakes import fake_localstack, plain_listener, stand_in_localstack


@dataclass
class Recorder:
    """What the lifecycle asked of LocalStack and of the deploy."""

    starts: list[int] = field(default_factory=list)
    deploys: list[bool] = field(default_factory=list)
    samples: int = 0
    deploy_raises: BaseException | None = None
    start_port: int | None = None  # where the started stand-in answers
    hot_reloading_checks: int = 0


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The lifecycle with its state under tmp_path, host mode, and fake start/deploy."""
    state_root = tmp_path / ".localstack"
    monkeypatch.setattr(local, "STATE_ROOT", state_root)
    monkeypatch.setattr(local, "SESSION_FILE", state_root / "session.json")
    monkeypatch.setattr(local, "DEPLOY_DIR", state_root / "local")
    monkeypatch.setattr(host, "default_state_dir", lambda repo_root=None: state_root / "state")
    monkeypatch.setenv("LOCALSTACK_MODE", "host")
    recorder = Recorder()

    @dataclass
    class Started:
        endpoint: str

        def log_tail(self, lines: int = 40) -> str:
            return "(log)"

        def stop(self) -> None:
            return None

    def start_localstack(mode: Any, port: int, **_: Any) -> Started:
        recorder.starts.append(port)
        return Started(f"http://127.0.0.1:{recorder.start_port or port}")

    def deploy(endpoint: str, work_dir: Path, log: Any = print, *, update: bool = False) -> Any:
        recorder.deploys.append(update)
        if recorder.deploy_raises is not None:
            raise recorder.deploy_raises
        return Deployment(endpoint, "UsersApi-dev", {}, {"Resources": {}}, {})

    def show_sample_requests(deployment: Deployment, log: Any = print) -> None:
        recorder.samples += 1

    def end_hot_reloading(deployment: Deployment) -> bool:
        recorder.hot_reloading_checks += 1
        return False

    monkeypatch.setattr(local, "start_localstack", start_localstack)
    monkeypatch.setattr(local, "end_hot_reloading", end_hot_reloading)
    monkeypatch.setattr(local, "deploy", deploy)
    monkeypatch.setattr(local, "show_sample_requests", show_sample_requests)
    return recorder


def record_session(port: int, session_id: str) -> None:
    local.Session(mode="host", port=port, endpoint=f"http://127.0.0.1:{port}",
                  session_id=session_id).save()  # fmt: skip


def test_a_port_held_by_something_else_is_refused_before_anything_starts(
    harness: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with plain_listener() as port:
        monkeypatch.setenv("LOCALSTACK_PORT", str(port))
        with pytest.raises(HarnessError) as refused:
            local.up(log=lambda _: None)
    message = str(refused.value)
    assert f"Port {port} is already in use by something that is not LocalStack" in message
    assert f"pid {os.getpid()}" in message  # this test process holds it
    assert "LOCALSTACK_PORT" in message
    assert harness.starts == []
    assert harness.deploys == []
    assert not local.SESSION_FILE.exists()


def test_a_port_held_by_another_localstack_is_never_deployed_into(
    harness: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_localstack("someone-elses") as port:
        monkeypatch.setenv("LOCALSTACK_PORT", str(port))
        with pytest.raises(HarnessError, match=f"Port {port} is already in use by another Local"):
            local.up(log=lambda _: None)
    assert harness.starts == []
    assert harness.deploys == []


def test_first_start_records_the_session_then_deploys(
    harness: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_localstack("ours") as port:
        harness.start_port = port
        monkeypatch.setenv("LOCALSTACK_PORT", str(free_port()))
        local.up(log=lambda _: None)
    session = json.loads(local.SESSION_FILE.read_text())
    assert session["session_id"] == "ours"
    assert harness.deploys == [False]
    assert harness.samples == 1


def test_a_rerun_while_up_deploys_what_changed_without_a_new_start(harness: Recorder) -> None:
    # Given `make local` up, its stack deployed
    with fake_localstack("ours") as port, stand_in_localstack(host.default_state_dir(), port):
        record_session(port, "ours")
        local.DEPLOY_DIR.mkdir(parents=True)
        (local.DEPLOY_DIR / "outputs.json").write_text("{}")
        # When it runs again
        local.up(log=lambda _: None)
    # Then it deploys what changed into the running LocalStack and shows the sample again
    assert harness.starts == []
    assert harness.deploys == [True]  # update: hotswap, no bootstrap
    assert harness.samples == 1
    # And a function a killed `make watch` left on its folder gets the deployed code back
    assert harness.hot_reloading_checks == 1


def test_a_rerun_after_a_failed_first_deploy_deploys_in_full(harness: Recorder) -> None:
    with fake_localstack("ours") as port, stand_in_localstack(host.default_state_dir(), port):
        record_session(port, "ours")  # up, but no deploy finished: no outputs
        local.up(log=lambda _: None)
    assert harness.starts == []
    assert harness.deploys == [False]  # bootstrap and a full deploy


def test_a_stale_session_whose_process_is_gone_is_cleaned_up_then_started_afresh(
    harness: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a session file left by a start that failed: no LocalStack process
    record_session(4566, "long-gone")
    (local.DEPLOY_DIR / "cdk.out").mkdir(parents=True)
    messages: list[str] = []
    with fake_localstack("fresh") as port:
        harness.start_port = port
        monkeypatch.setenv("LOCALSTACK_PORT", str(free_port()))
        local.up(log=messages.append)
    assert "stale `make local` session (its LocalStack process is gone)" in messages[0]
    assert len(harness.starts) == 1
    assert harness.deploys == [False]
    assert json.loads(local.SESSION_FILE.read_text())["session_id"] == "fresh"
    assert not (local.DEPLOY_DIR / "cdk.out").exists()


def test_a_session_whose_port_now_answers_from_another_localstack_is_stale(
    harness: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given our session's LocalStack, whose port now answers from another LocalStack
    with (
        fake_localstack("another-checkout") as port,
        stand_in_localstack(host.default_state_dir(), port) as (leader, child),
    ):
        record_session(port, "ours")
        monkeypatch.setenv("LOCALSTACK_PORT", str(port))
        # Then our leftover is stopped, and the busy port refused: no deploy into theirs
        with pytest.raises(HarnessError, match="another LocalStack"):
            local.up(log=lambda _: None)
        assert not pid_alive(leader)
        assert not pid_alive(child)
    assert harness.deploys == []


def test_ctrl_c_during_the_first_deploy_stops_what_it_started(
    harness: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.deploy_raises = KeyboardInterrupt()
    port = free_port()
    monkeypatch.setenv("LOCALSTACK_PORT", str(port))
    with stand_in_localstack(host.default_state_dir(), port) as (leader, child):
        with pytest.raises(local.Interrupted, match="nothing is left running"):
            local.up(log=lambda _: None)
        assert not pid_alive(leader)
        assert not pid_alive(child)
    assert not local.SESSION_FILE.exists()


def test_ctrl_c_during_a_redeploy_leaves_localstack_up_and_says_so(harness: Recorder) -> None:
    harness.deploy_raises = KeyboardInterrupt()
    with (
        fake_localstack("ours") as port,
        stand_in_localstack(host.default_state_dir(), port) as (
            leader,
            _,
        ),
    ):
        record_session(port, "ours")
        with pytest.raises(local.Interrupted, match=r"still up .* `make local-down` stops it"):
            local.up(log=lambda _: None)
        assert pid_alive(leader)
    assert local.SESSION_FILE.exists()


def test_the_command_line_turns_ctrl_c_into_one_line_and_status_130(
    harness: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.deploy_raises = KeyboardInterrupt()
    with fake_localstack("ours") as port, stand_in_localstack(host.default_state_dir(), port):
        record_session(port, "ours")
        status = cli.main(["up"])
    err = capsys.readouterr().err
    assert status == 130
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_failed_redeploy_says_how_to_start_afresh(
    harness: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.deploy_raises = HarnessError("Deploying what changed in UsersApi-dev failed")
    with fake_localstack("ours") as port, stand_in_localstack(host.default_state_dir(), port):
        record_session(port, "ours")
        status = cli.main(["up"])
    assert status == 1
    assert "`make local-down && make local`" in capsys.readouterr().err


def test_down_stops_the_session_and_removes_its_state(harness: Recorder) -> None:
    with (
        fake_localstack("ours") as port,
        stand_in_localstack(host.default_state_dir(), port) as (
            leader,
            child,
        ),
    ):
        record_session(port, "ours")
        local.down(log=lambda _: None)
        assert not pid_alive(leader)
        assert not pid_alive(child)  # DynamoDB Local's stand-in, in a session of its own
    assert not local.SESSION_FILE.exists()


def free_port() -> int:
    return host.free_port()


FAKE_DOCKER = """#!/bin/sh
[ "$1 $2" = "compose version" ] && echo "Docker Compose version v2.40.3" && exit 0
echo "$@" >> "$FAKE_DOCKER_LOG"
[ "$1" = info ] && echo 27.0.0
exit 0
"""


def test_a_stale_docker_session_is_taken_down_by_its_compose_project(
    harness: Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a Docker-mode session whose LocalStack no longer answers
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    calls = tmp_path / "docker-calls"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(calls))
    monkeypatch.setenv("LOCALSTACK_MODE", "docker")
    monkeypatch.setenv("LOCALSTACK_PORT", str(free_port()))
    gone = free_port()
    local.Session(mode="docker", port=gone, endpoint=f"http://127.0.0.1:{gone}",
                  session_id="gone").save()  # fmt: skip
    messages: list[str] = []
    with fake_localstack("fresh") as port:
        harness.start_port = port
        local.up(log=messages.append)
    # Then its compose project is taken down, volumes included, before a fresh start
    assert f"nothing answers on port {gone}" in messages[0]
    down = [line for line in calls.read_text().splitlines() if " down " in f" {line} "]
    assert len(down) == 1
    assert "-p users-api down --volumes --remove-orphans" in down[0]
    assert len(harness.starts) == 1
