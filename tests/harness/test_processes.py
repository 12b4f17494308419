"""What the harness reads from /proc: port holders, descendants, and Ctrl-C around a deploy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from e2e.harness import host
from e2e.harness.paths import REPO_ROOT
from e2e.harness.processes import ensure_port_free, listener_of, pid_alive, port_is_free
from tests.harness.fakes import plain_listener, stand_in_localstack


def test_a_listening_port_is_busy_and_its_holder_is_found() -> None:
    with plain_listener() as port:
        assert not port_is_free(port)
        holder = listener_of(port)
        assert holder is not None
        assert holder.pid == os.getpid()
    assert port_is_free(port)
    ensure_port_free(port)  # does not raise


def test_dynamodb_local_is_found_below_localstack_and_stopped_with_it(tmp_path: Path) -> None:
    # Given a LocalStack stand-in whose "DynamoDB Local" runs in a session of its own
    with stand_in_localstack(tmp_path / "state", host.free_port()) as (leader, child):
        running = host.attach(tmp_path / "state")
        assert running is not None
        # When the fault tests look for DynamoDB Local
        found = running.dynamodb_local_process()
        assert found is not None
        assert found.pid == child
        # Then stopping LocalStack stops it too, although a group signal cannot reach it
        running.stop()
        assert not pid_alive(leader)
        deadline = time.monotonic() + 5
        while pid_alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(child)
    assert not (tmp_path / "state" / "localstack.pid").exists()


# The harness's deploy step, running a command that stands in for cdklocal (the CDK app, jsii):
# it records its pid, and whether Ctrl-C reached it.
_DEPLOYING = """
import sys
from pathlib import Path
from e2e.harness.deploy import run_quietly
work = Path(sys.argv[1])
child = [sys.executable, "-c", (
    "import os, signal, sys, time; from pathlib import Path; w = Path(sys.argv[1]);"
    "signal.signal(signal.SIGINT, lambda *_: (w / 'child.sigint').write_text('1'));"
    "(w / 'child.pid').write_text(str(os.getpid()));"
    "time.sleep(60)"), str(work)]
try:
    run_quietly(child, cwd=work, env={})
except KeyboardInterrupt:
    print("harness saw Ctrl-C", flush=True)
"""


def test_ctrl_c_during_a_deploy_reaches_only_the_harness_which_ends_the_deploy(
    tmp_path: Path,
) -> None:
    harness = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_DEPLOYING), str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group stands for the terminal's foreground group
    )
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    # When Ctrl-C hits the terminal's foreground group
    os.killpg(harness.pid, signal.SIGINT)
    out, err = harness.communicate(timeout=30)
    # Then the harness handles it, and the deploy's process is gone without a traceback
    assert "harness saw Ctrl-C" in out
    assert "Traceback" not in err
    assert not (tmp_path / "child.sigint").exists()
    assert not pid_alive(child)
