"""Fault injection for the e2e suite: the DynamoDB Local process of a host-mode session.

LocalStack starts DynamoDB Local as a child (`java ... DynamoDBLocal.jar`), keeps its data on disk
in the session's state folder, and starts it again when it exits. Stalling it (SIGSTOP) looks like
a DynamoDB that accepts requests and never answers; killing it looks like one that is gone.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROC = Path("/proc")


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


@contextmanager
def stalled(pid: int) -> Iterator[None]:
    """DynamoDB Local frozen for the block; it always resumes, whatever the block raises."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(PROC / str(pid)).exists() and time.monotonic() < deadline:
        if "State:\tZ" in (PROC / str(pid) / "status").read_text(errors="replace"):
            break  # a zombie until LocalStack reaps it: gone as a server
        time.sleep(0.05)
