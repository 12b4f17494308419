"""Host stand-in for LocalStack's Lambda init: one process per execution environment.

Started by executor.py with the function's interpreter (standard library only). It:
  * serves `POST /invoke` on an ephemeral loopback port and reports that port with status/ready;
  * runs the function in a worker process (runtime.py) so a timeout can kill the function
    without losing the environment: the next invocation starts a fresh worker (a new init);
  * collects the worker's stdout/stderr per invocation, adds START/END/REPORT lines and posts
    them as the invocation's logs (LocalStack ships them to CloudWatch Logs), then posts the
    response or error.
"""

import json
import math
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RUNTIME_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.py")
# Environment only meant for this process, not for the function.
PRIVATE_ENV = (
    "LOCALSTACK_RUNTIME_ENDPOINT",
    "LOCALSTACK_RUNTIME_ID",
    "_HOST_LAMBDA_PORT",
    "LOCALSTACK_HOT_RELOADING_PATHS",
)
MARKER_ENV = "_HOST_LAMBDA_MARKER"
PORT_ENV = "_HOST_LAMBDA_PORT"
# Lambda allows 10 s for the init phase of an on-demand environment.
INIT_TIMEOUT = 10.0
# Hot reloading (code from a host folder): comma-separated paths to watch. As LocalStack's init
# does, the runtime restarts once they have been quiet for half a second after a change.
HOT_RELOADING_ENV = "LOCALSTACK_HOT_RELOADING_PATHS"
HOT_RELOAD_POLL = 0.2
HOT_RELOAD_QUIET = 0.5

# Callbacks go straight to LocalStack on loopback, never through a proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, data: bytes, content_type: str = "application/json") -> None:
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", content_type)
    with HTTP.open(request, timeout=30) as response:
        response.read()


def note(message: str) -> None:
    """Diagnostics of this process (LocalStack shows them when a start fails)."""
    print(f"[host-init] {message}", file=sys.stderr, flush=True)


class Worker:
    """A runtime.py process plus a reader thread that splits its output into log text and
    protocol messages (lines carrying a per-worker random marker)."""

    def __init__(self, env: dict[str, str], cwd: str):
        marker = f"\x1ehost-lambda-{secrets.token_hex(16)}\x1e"
        self.marker = marker.encode()
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-s", RUNTIME_SCRIPT],
            cwd=cwd,
            env={**env, MARKER_ENV: marker},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # One pipe for both streams keeps their relative order, as in CloudWatch.
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            text, found, message = line.partition(self.marker)
            if text:
                self.events.put(("log", text))
            if found:
                self.events.put(("msg", json.loads(message)))
        self.events.put(("exit", self.process.wait()))

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def next_event(self, deadline: float):
        """The next (kind, value) event, or None once `deadline` (monotonic) has passed."""
        try:
            return self.events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def max_memory_mb(self) -> int:
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return math.ceil(int(line.split()[1]) / 1024)
        except OSError:
            pass
        return 0

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class Environment:
    def __init__(self) -> None:
        self.endpoint = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
        self.timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self.memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.worker_env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
        self.worker: Worker | None = None
        self.init_logs: list[bytes] = []
        self.init_duration_ms: float | None = None
        self.init_failure: dict[str, Any] | None = None
        self.invocations: queue.Queue[dict[str, Any]] = queue.Queue()
        # Held by an invocation and by a hot reload, so a reload never cuts an invocation short.
        self.lock = threading.Lock()
        self.fresh_worker = False  # started by a reload: its init is reported by the next call

    # --- worker lifecycle -------------------------------------------------------------------

    def start_worker(self, deadline: float) -> None:
        """Start a worker and run its init phase (imports the handler module)."""
        started = time.monotonic()
        self.worker = Worker(self.worker_env, os.getcwd())
        self.init_logs, self.init_failure = [], None
        while True:
            event = self.worker.next_event(deadline)
            if event is None:
                self.worker.kill()
                self.init_failure = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": "Error: the init phase did not finish before the timeout",
                }
                return
            kind, value = event
            if kind == "log":
                self.init_logs.append(value)
            elif kind == "exit":
                self.init_failure = self.exit_error(value)
                return
            elif value.get("type") == "init":
                self.init_duration_ms = (time.monotonic() - started) * 1000
                return

    def reload(self) -> None:
        """The code changed: a new worker (a new init phase) for the next invocation."""
        with self.lock:
            if self.worker is not None:
                self.worker.kill()
            self.start_worker(time.monotonic() + INIT_TIMEOUT)
            self.fresh_worker = True
        note("code changed: runtime restarted")

    def worker_alive(self) -> bool:
        return self.worker is not None and self.worker.process.poll() is None

    def shutdown(self, *_args) -> None:
        if self.worker is not None:
            self.worker.kill()
        os._exit(0)

    @staticmethod
    def exit_error(code: int, request_id: str = "") -> dict[str, Any]:
        reason = f"signal: {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
        }

    # --- invocations ------------------------------------------------------------------------

    def serve_invocations(self) -> None:
        while True:
            invocation = self.invocations.get()
            try:
                with self.lock:
                    self.invoke(invocation)
            except Exception as e:  # never leave LocalStack waiting for a callback
                note(f"invocation failed: {e!r}")
                request_id = invocation.get("invoke-id", "")
                self.report(
                    request_id, b"", {"errorType": "Runtime.Unknown", "errorMessage": repr(e)}
                )

    def invoke(self, invocation: dict[str, Any]) -> None:
        request_id = invocation["invoke-id"]
        started = time.monotonic()
        deadline = started + self.timeout
        deadline_epoch_ms = int((time.time() + self.timeout) * 1000)
        cold = self.fresh_worker or not self.worker_alive()
        self.fresh_worker = False
        if not self.worker_alive():
            self.start_worker(deadline)
        worker = self.worker
        assert worker is not None
        logs = list(self.init_logs)
        init_duration = self.init_duration_ms if cold else None
        self.init_logs = []
        logs.append(f"START RequestId: {request_id} Version: {self.version}\n".encode())

        result, error, memory = None, None, None
        if self.init_failure is not None:
            error = {**self.init_failure, "requestId": request_id}
            self.init_failure = None
            if worker.process.poll() is None:  # the init phase itself hit the deadline
                worker.kill()
        else:
            worker.send(
                {
                    "type": "invoke",
                    "request_id": request_id,
                    "invoked_function_arn": invocation.get("invoked-function-arn", ""),
                    "payload": invocation.get("payload", ""),
                    "trace_id": invocation.get("trace-id", ""),
                    "deadline_ms": deadline_epoch_ms,
                }
            )
            while result is None and error is None:
                event = worker.next_event(deadline)
                if event is None:
                    # Lambda semantics: the function is stopped; the next invoke is a cold start.
                    memory = worker.max_memory_mb()
                    worker.kill()
                    message = f"Task timed out after {self.timeout:.2f} seconds"
                    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    logs.append(f"{stamp} {request_id} {message}\n".encode())
                    error = {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {request_id} Error: {message}",
                    }
                    break
                kind, value = event
                if kind == "log":
                    logs.append(value)
                elif kind == "exit":
                    error = self.exit_error(value, request_id)
                elif value.get("type") == "response":
                    result = value["body"].encode()
                elif value.get("type") == "error":
                    error = value["error"]

        duration = (time.monotonic() - started) * 1000
        if memory is None:
            memory = worker.max_memory_mb()
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {self.memory} MB\t"
            f"Max Memory Used: {memory} MB"
        )
        if init_duration is not None:
            report += f"\tInit Duration: {init_duration:.2f} ms"
        logs.append(f"END RequestId: {request_id}\n{report}\n".encode())
        self.report(request_id, b"".join(logs), error, result)

    def report(
        self,
        request_id: str,
        logs: bytes,
        error: dict[str, Any] | None,
        result: bytes | None = None,
    ) -> None:
        base = f"{self.endpoint}/invocations/{request_id}"
        # Logs first: LocalStack attaches them to the result when the response/error arrives.
        post(f"{base}/logs", json.dumps({"logs": logs.decode("utf-8", "replace")}).encode())
        if error is not None:
            post(f"{base}/error", json.dumps(error).encode())
        else:
            post(f"{base}/response", result if result is not None else b"null")


def make_handler(environment: Environment):
    class InvokeHandler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/invoke":
                self.send_response(404)
                self.end_headers()
                return
            environment.invocations.put(json.loads(body))
            # Accept at once; the outcome is reported through the callbacks.
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return InvokeHandler


def code_snapshot(paths: list[str]) -> dict[str, tuple[int, int]]:
    """mtime and size of every file under `paths` (bytecode caches left out)."""
    snap: dict[str, tuple[int, int]] = {}
    for root in paths:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                snap[path] = (stat.st_mtime_ns, stat.st_size)
    return snap


def watch_code(environment: Environment, paths: list[str]) -> None:
    seen = code_snapshot(paths)
    changed_at: float | None = None
    while True:
        time.sleep(HOT_RELOAD_POLL)
        current = code_snapshot(paths)
        if current != seen:
            seen, changed_at = current, time.monotonic()
        elif changed_at is not None and time.monotonic() - changed_at >= HOT_RELOAD_QUIET:
            changed_at = None
            environment.reload()


def exit_with_parent(environment: Environment) -> None:
    """Exit when LocalStack (our parent) goes away, so no environment outlives it."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    environment.shutdown()


def main() -> None:
    environment = Environment()
    signal.signal(signal.SIGTERM, environment.shutdown)
    threading.Thread(target=exit_with_parent, args=(environment,), daemon=True).start()

    # An ephemeral port, or the one of the init this process replaces (executor.py restarts a
    # crashed init and LocalStack keeps sending to the old port).
    port = int(os.environ.pop(PORT_ENV, "0"))
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(environment))
    port = server.server_address[1]
    environment.worker_env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"

    # Init phase before reporting ready, as Lambda does; a failing init is reported with the
    # first invocation (like Lambda) rather than failing the environment's start.
    environment.start_worker(time.monotonic() + INIT_TIMEOUT)
    threading.Thread(target=environment.serve_invocations, daemon=True).start()
    hot_reloading = [p for p in os.environ.get(HOT_RELOADING_ENV, "").split(",") if p]
    if hot_reloading:
        threading.Thread(target=watch_code, args=(environment, hot_reloading), daemon=True).start()

    runtime_id = os.environ["LOCALSTACK_RUNTIME_ID"]
    post(
        f"{environment.endpoint}/status/{runtime_id}/ready",
        json.dumps({"port": port}).encode(),
    )
    note(f"ready on port {port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
