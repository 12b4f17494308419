# mypy: ignore-errors
# (Runs inside LocalStack's own venv; the project's type-check environment has no localstack.)
"""LocalStack side of the host executor: one HostRuntimeExecutor per Lambda execution environment.

Instead of a container running LocalStack's Go init, each environment is a local `init.py` process
(run by the interpreter configured for the function's runtime). It speaks the same HTTP protocol as
the Go init: it reports ready/error to `/_localstack_lambda/<id>/status/...`, accepts `POST /invoke`
and reports logs, responses and errors to `/_localstack_lambda/<id>/invocations/<request id>/...`.
LocalStack's own machinery (concurrency limits, keep-alive, CloudWatch logs) is reused unchanged.
"""

import json
import logging
import os
import subprocess
import threading
from http import HTTPStatus
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.http import Response
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

LOG = logging.getLogger(__name__)

# JSON object mapping Lambda runtimes to host interpreters, e.g. {"python3.13": "/x/bin/python"}.
# Each interpreter must be the runtime's Python version and have boto3, like Lambda's images.
RUNTIMES_ENV = "LAMBDA_HOST_RUNTIMES"
# Tells a restarted init to listen on its predecessor's port (see HostRuntimeExecutor._watch).
PORT_ENV = "_HOST_LAMBDA_PORT"
# LocalStack's Docker executor hands the mounted code path to its init under this name, and the
# init restarts the runtime when a file there changes; init.py does the same on the host.
HOT_RELOADING_ENV = "LOCALSTACK_HOT_RELOADING_PATHS"
MAX_RESTARTS = 5
INIT_SCRIPT = Path(__file__).with_name("init.py")
LOOPBACK = "127.0.0.1"


def runtime_interpreters() -> dict[str, str]:
    raw = os.environ.get(RUNTIMES_ENV, "").strip()
    if not raw:
        return {}
    try:
        mapping = json.loads(raw)
    except ValueError as e:
        raise LambdaRuntimeException(f"{RUNTIMES_ENV} is not valid JSON: {e}") from e
    return {str(k): str(v) for k, v in mapping.items()}


def interpreter_for(function_version: FunctionVersion) -> str:
    runtime = function_version.config.runtime
    interpreters = runtime_interpreters()
    if function_version.config.package_type != PackageType.Zip or not runtime:
        raise LambdaRuntimeException("The host Lambda executor only supports zip packages")
    if runtime not in interpreters:
        raise LambdaRuntimeException(
            f"Runtime {runtime} is not available on this host; configured runtimes: "
            f"{sorted(interpreters) or 'none'} (set {RUNTIMES_ENV})"
        )
    return interpreters[runtime]


class HostExecutorEndpoint(ExecutorEndpoint):
    """ExecutorEndpoint that learns the environment's port from its ready callback.

    Each init process binds an ephemeral port itself and reports it, so concurrent environments
    never race for a port.
    """

    def status_ready(self, request, executor_id):
        body = json.loads(request.data or b"{}")
        self.container_address = LOOPBACK
        self.container_port = int(body["port"])
        if self.startup_future is not None and self.startup_future.done():
            return Response(status=HTTPStatus.ACCEPTED)  # a restarted init (see _watch)
        return super().status_ready(request, executor_id)

    def fail_pending(self, message: str) -> None:
        """The init process died: fail a pending startup or invocation now instead of letting
        LocalStack wait for a callback that will never come (up to 900 s for an invocation)."""
        payload = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
        if self.startup_future is not None and not self.startup_future.done():
            self.startup_future.set_exception(StatusErrorException(message, payload=payload))
        future = self.invocation_future
        if future is not None and not future.done():
            future.set_result(
                InvocationResult("", payload, is_error=True, logs=self.logs or f"{message}\n")
            )


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = HostExecutorEndpoint(self.id)
        self.process: subprocess.Popen | None = None
        self.stopping = threading.Event()
        # Held while deciding to respawn and while stopping, so a stop can never miss a respawn.
        self.lifecycle = threading.Lock()
        self.work_dir = Path(config.dirs.tmp) / "lambda-host" / self.id
        self.log_path = self.work_dir / "init.log"

    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        interpreter = interpreter_for(self.function_version)
        runtime = self.function_version.config.runtime
        tmp_dir = self.work_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())

        env = {
            # A small, predictable base instead of LocalStack's own environment (which holds
            # LocalStack's settings and venv) - like a fresh Lambda sandbox.
            "PATH": f"{Path(interpreter).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            # Own HOME/TMPDIR so the host's ~/.aws config cannot leak into the function.
            "HOME": str(tmp_dir),
            "TMPDIR": str(tmp_dir),
            **{key: str(value) for key, value in env_vars.items()},
            # The code lives where LocalStack unzipped it, not in /var/task.
            "LAMBDA_TASK_ROOT": code_dir,
        }
        if self.function_version.config.code.is_hot_reloading():
            # Code from a host folder (the `hot-reload` bucket): used in place, watched by init.py.
            env[HOT_RELOADING_ENV] = code_dir
        if env.get("AWS_EXECUTION_ENV") == "AWS_Lambda_rapid":
            # Lambda's runtime bootstrap replaces the placeholder with the runtime's name.
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"

        self.command = [interpreter, "-s", str(INIT_SCRIPT)]  # -s: no user site-packages
        self.env, self.code_dir = env, code_dir
        self._spawn()
        threading.Thread(
            target=self._watch, name=f"lambda-host-watch-{self.id}", daemon=True
        ).start()
        self.executor_endpoint.wait_for_startup()

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.code_dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        LOG.debug("Started host environment %s (pid %s)", self.id, self.process.pid)

    def _watch(self) -> None:
        """Fail what waits on a dead init at once, then restart it.

        LocalStack keeps using a "ready" environment and has no hook to drop one, so a crashed
        init is restarted on the same port; LocalStack retries refused connections to /invoke
        for a few seconds, which covers the restart.
        """
        for _ in range(MAX_RESTARTS + 1):
            code = self.process.wait()
            if self.stopping.is_set():
                return
            LOG.warning("Lambda host environment %s exited with status %s", self.id, code)
            endpoint = self.executor_endpoint
            started = endpoint.startup_future is not None and endpoint.startup_future.done()
            reason = f"signal {-code}" if code < 0 else f"exit status {code}"
            endpoint.fail_pending(f"Runtime exited with error: {reason}")
            if not started:
                return
            with self.lifecycle:
                if self.stopping.is_set():
                    return
                self.env[PORT_ENV] = str(endpoint.container_port)
                self._spawn()

    def stop(self) -> None:
        with self.lifecycle:
            self.stopping.set()
        if self.process and self.process.poll() is None:
            # init.py kills its worker on SIGTERM; SIGKILL only if it does not go quietly.
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:
            LOG.debug("Error while shutting down executor endpoint %s: %s", self.id, e)

    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        # The function runs on this host, so LocalStack is reached on loopback.
        return LOOPBACK

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{LOOPBACK}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20_000:]
        except OSError:
            return "No logs (environment not started)"

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        interpreter_for(function_version)  # fail the function's creation early if unsupported
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        if not runtime_interpreters():
            LOG.warning("No Lambda runtimes configured for the host executor (%s)", RUNTIMES_ENV)
            return False
        return True
