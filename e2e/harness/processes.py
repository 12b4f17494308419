"""Processes and ports on this machine, read from /proc (Linux) with the standard library."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from e2e.harness.modes import HarnessError

PROC = Path("/proc")


@dataclass(frozen=True)
class LocalProcess:
    pid: int
    argv: tuple[str, ...]

    @property
    def name(self) -> str:
        return Path(self.argv[0]).name if self.argv else f"pid {self.pid}"


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped) counts as gone."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return (PROC / str(pid) / "stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def process(pid: int) -> LocalProcess | None:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    argv = tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return LocalProcess(pid, argv)


def _parent_of(pid: int) -> int | None:
    try:
        return int((PROC / str(pid) / "stat").read_text().rsplit(") ", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(root: int) -> list[LocalProcess]:
    """Every process below `root`, also those in sessions of their own (LocalStack starts
    DynamoDB Local with one, so signalling LocalStack's group does not reach it)."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                parents[int(entry.name)] = parent
    found: list[LocalProcess] = []
    frontier = {root}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier}
        frontier = children
        found.extend(p for p in map(process, sorted(children)) if p is not None)
    return found


def port_is_free(port: int) -> bool:
    """True when LocalStack could listen on 127.0.0.1:`port` (as its servers do, reusing
    TIME_WAIT addresses) and nothing accepts connections there."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def listener_of(port: int) -> LocalProcess | None:
    """The process listening on TCP `port`, when this user may see it."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(inode)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return process(int(entry.name))
    return None


def localstack_info(endpoint: str, timeout: float = 2.0) -> dict[str, object] | None:
    """LocalStack's /_localstack/info (its `session_id` is new at every start), or None when
    nothing there answers like a LocalStack."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/info", timeout=timeout) as response:
            info = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "session_id" in info else None


def ensure_port_free(port: int) -> None:
    """Raise, before anything starts, when 127.0.0.1:`port` is taken, saying by what."""
    if port_is_free(port):
        return
    holder = listener_of(port)
    who = f" (pid {holder.pid}, {holder.name})" if holder else ""
    if localstack_info(f"http://127.0.0.1:{port}") is not None:
        what = f"another LocalStack{who}, not one this checkout's `make local` started"
    else:
        what = f"something that is not LocalStack{who}"
    raise HarnessError(
        f"Port {port} is already in use by {what}: stop it, or choose another port with "
        f"LOCALSTACK_PORT (e.g. `LOCALSTACK_PORT={port + 1} make local`)."
    )
