"""Stand-ins for the harness tests: a LocalStack-like HTTP endpoint, a plain listener, and a
process group standing in for a host LocalStack (no LocalStack, no network beyond loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@contextmanager
def fake_localstack(session_id: str) -> Iterator[int]:
    """An HTTP server on a free loopback port answering LocalStack's health and info routes."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes = {
                "/_localstack/health": {"services": {"lambda": "running"}},
                "/_localstack/info": {"version": "4.14.0", "session_id": session_id},
            }
            body = json.dumps(routes.get(self.path, {})).encode()
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def plain_listener() -> Iterator[int]:
    """Something that is not LocalStack listening on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


# A group leader that starts a child in a session of its own (as LocalStack starts
# DynamoDB Local), prints the child's pid, then sleeps.
_GROUP_LEADER = """
import subprocess, sys, time
sleeper = [sys.executable, "-c", "import time; time.sleep(120)", "DynamoDBLocal.jar"]
child = subprocess.Popen(sleeper, start_new_session=True)
print(child.pid, flush=True)
time.sleep(120)
"""


@contextmanager
def stand_in_localstack(state_dir: Path, port: int) -> Iterator[tuple[int, int]]:
    """A process group recorded in `state_dir` as a host LocalStack on `port`, as host.start
    records one: yields (leader pid, pid of its child in a session of its own)."""
    leader = subprocess.Popen(
        [sys.executable, "-c", _GROUP_LEADER],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "localstack.pid").write_text(f"{leader.pid} {port} {leader.pid}\n")
    try:
        yield leader.pid, child
    finally:
        for pid in (leader.pid, child):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        leader.wait()
