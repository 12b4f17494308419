"""Fault injection for the e2e suite: DynamoDB Local's process under the session's LocalStack.

LocalStack starts DynamoDB Local as a child (`java ... DynamoDBLocal.jar`), keeps its data on disk
in the session's state folder, and starts it again when it exits. Stalling it (SIGSTOP) looks like
a DynamoDB that accepts requests and never answers; killing it looks like one that is gone.

Host mode signals the process directly; Docker mode signals it inside LocalStack's container
with `docker exec` (the same on a remote engine, where host pids mean nothing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PROC = Path("/proc")
GONE_TIMEOUT = 10.0


class Process(Protocol):
    """A process that can be signalled, and told gone once a signal ended it."""

    def signal(self, name: str) -> None: ...

    def gone(self) -> bool: ...


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in (PROC / str(pid) / "task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def dynamodb_local_pid(localstack_pid: int) -> int:
    """The DynamoDB Local process among LocalStack's descendants (never another session's)."""
    pending = [localstack_pid]
    while pending:
        pid = pending.pop()
        if "DynamoDBLocal.jar" in _cmdline(pid):
            return pid
        pending += _children(pid)
    raise LookupError(f"no DynamoDB Local process under LocalStack (pid {localstack_pid})")


@dataclass(frozen=True)
class HostProcess:
    pid: int

    def signal(self, name: str) -> None:
        os.kill(self.pid, signal.Signals[f"SIG{name}"])

    def gone(self) -> bool:
        try:
            # A zombie until LocalStack reaps it: gone as a server.
            return "State:\tZ" in (PROC / str(self.pid) / "status").read_text(errors="replace")
        except OSError:
            return True


# `[.]`: the pattern never matches the shell's own command line, which holds it.
_FIND_IN_CONTAINER = "grep -l -a 'DynamoDBLocal[.]jar' /proc/[0-9]*/cmdline 2>/dev/null"


@dataclass(frozen=True)
class ContainerProcess:
    """A process inside a container, by its pid there."""

    container: str
    pid: int

    @classmethod
    def dynamodb_local(cls, container: str) -> ContainerProcess:
        listed = _exec(container, _FIND_IN_CONTAINER, check=False).stdout.split()
        pids = sorted(int(path.split("/")[2]) for path in listed)
        if not pids:
            raise LookupError(f"no DynamoDB Local process in LocalStack's container {container}")
        return cls(container, pids[0])

    def signal(self, name: str) -> None:
        _exec(self.container, f"kill -{name} {self.pid}")

    def gone(self) -> bool:
        status = f"/proc/{self.pid}/status"
        script = f"! test -e {status} || grep -q '^State:[[:space:]]*Z' {status}"
        return _exec(self.container, script, check=False).returncode == 0


def _exec(container: str, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", "exec", container, "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"`{script}` in container {container} failed: {result.stderr.strip()}")
    return result


@contextmanager
def stalled(process: Process) -> Iterator[None]:
    """DynamoDB Local frozen for the block; it always resumes, whatever the block raises."""
    process.signal("STOP")
    try:
        yield
    finally:
        process.signal("CONT")


def kill(process: Process) -> None:
    process.signal("KILL")
    deadline = time.monotonic() + GONE_TIMEOUT
    while not process.gone() and time.monotonic() < deadline:
        time.sleep(0.05)
