"""Which LocalStack image Docker mode runs, and the project's own image where no registry answers.

- LOCALSTACK_IMAGE set: that image, as given (the official `localstack/localstack:4.14.0`
  runs Lambda in sibling containers of Lambda's own images, but lacks the project's LocalStack
  plugin: the least-privilege audit and the upgrade suite need it);
- otherwise the project's image, `users-api-localstack:<content hash>`, built from
  e2e/docker/Dockerfile with host mode's pins: localstack.lock, every distribution under
  e2e/host/ (the Lambda executor: Lambda runs as processes inside the LocalStack container),
  lambda-runtime.lock and DynamoDB Local from node_modules. Its base is
  `python:3.13-slim-trixie` where a registry answers, else a Debian trixie minbase root
  filesystem (debootstrap, Debian's package mirror) turned into an image with `docker import`.

The tag is a hash of everything the image is made from: it is rebuilt only when one changes.
The wheels are downloaded on the host, with its own pip settings, so the build itself needs no
index, only Debian's mirror.

    python -m e2e.harness.image        build (when needed) and print the tag: `make image`
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from e2e.harness.host_install import (
    HOST_SOURCES,
    find_dynamodb_local,
    find_python313,
    host_distributions,
)
from e2e.harness.modes import HarnessError
from e2e.harness.paths import REPO_ROOT, STATE_ROOT

OFFICIAL_IMAGE = "localstack/localstack:4.14.0"
PROJECT_IMAGE = "users-api-localstack"
PYTHON_BASE = "python:3.13-slim-trixie"
DEBIAN_BASE = "users-api-debian:trixie-minbase"
DOCKERFILE = REPO_ROOT / "e2e" / "docker" / "Dockerfile"
BUILD_DIR = STATE_ROOT / "docker"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
# Bump when the staging below changes, so that existing images are rebuilt.
LAYOUT = "1"
PULL_TIMEOUT = 600

Log = Callable[[str], None]


def _log(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


def _docker(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=timeout
    )


def image_id(name: str) -> str | None:
    result = _docker("image", "inspect", "--format", "{{.Id}}", name)
    return result.stdout.strip() if result.returncode == 0 else None


def pulled(name: str, log: Log = _log) -> bool:
    """True when `name` is here or a registry gives it."""
    if image_id(name):
        return True
    log(f"pulling {name} ...")
    try:
        result = _docker("pull", "--quiet", name, timeout=PULL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def localstack_image(environ: Mapping[str, str], log: Log = _log) -> str:
    """The image Docker mode runs (see the module docstring)."""
    chosen = environ.get("LOCALSTACK_IMAGE", "").strip()
    if chosen:
        return chosen
    # The project's plugin (call recorder, CloudFormation fixes) is in this image only.
    tag = ensure_image(log)
    log(f"LocalStack image: {tag}, built from the project's pins (LOCALSTACK_IMAGE overrides)")
    return tag


# --------------------------------------------------------------------------------------------
# The project's image


def _inputs() -> list[Path]:
    """Every file the image is made from, in the repository."""
    sources = REPO_ROOT / HOST_SOURCES
    files = [DOCKERFILE, sources / "localstack.lock", sources / "lambda-runtime.lock"]
    for folder in [*host_distributions(sources), sources / "ddb-agent"]:
        files += sorted(
            p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
    return files


def content_tag(base_id: str, dynamodb_local: Path) -> str:
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    # DynamoDB Local by its release folder and jar size (`npm ci` rewrites its mtimes).
    jar = dynamodb_local / "DynamoDBLocal.jar"
    for part in (LAYOUT, base_id, dynamodb_local.name, jar.stat().st_size):
        digest.update(str(part).encode())
    return f"{PROJECT_IMAGE}:{digest.hexdigest()[:16]}"


def ensure_image(log: Log = _log) -> str:
    """The project's image for the current inputs, built first when there is none."""
    base = ensure_base(log)
    base_id = image_id(base) or base
    dynamodb_local = find_dynamodb_local(REPO_ROOT)
    tag = content_tag(base_id, dynamodb_local)
    if image_id(tag):
        return tag
    log(f"building {tag} (base {base}): a few minutes, once per change of its inputs")
    started = time.monotonic()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR, prefix="context-") as context:
        _stage(Path(context), dynamodb_local, log)
        _step(
            log,
            "docker build",
            [
                "docker",
                "build",
                "--quiet",
                "--network",
                "host",
                *_build_args(base),
                "--tag",
                tag,
                "--file",
                str(DOCKERFILE),
                context,
            ],
        )
    _docker("image", "prune", "--force", "--filter", "label=users-api.build-stage")
    remove_project_images(keep=tag, log=log)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _build_args(base: str) -> list[str]:
    args = ["--build-arg", f"BASE={base}"]
    # A proxy the host needs, the build needs too.
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        if os.environ.get(name):
            args += ["--build-arg", f"{name}={os.environ[name]}"]
    return args


def _stage(context: Path, dynamodb_local: Path, log: Log) -> None:
    """The build context: the pins, wheels for them (downloaded here, with this machine's pip
    settings), the distributions of e2e/host/ as wheels, DynamoDB Local and the agent's source."""
    sources = REPO_ROOT / HOST_SOURCES
    python = str(find_python313())
    for lock in ("localstack.lock", "lambda-runtime.lock"):
        shutil.copy(sources / lock, context / lock)
    wheel = [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
    _step(
        log,
        "downloading LocalStack's wheels (localstack.lock)",
        [*wheel, "--requirement", str(sources / "localstack.lock"), "--wheel-dir", "wheels"],
        cwd=context,
    )
    _step(
        log,
        "downloading the Lambda runtime's wheels (lambda-runtime.lock)",
        [
            *wheel,
            "--requirement",
            str(sources / "lambda-runtime.lock"),
            "--wheel-dir",
            "lambda-wheels",
        ],
        cwd=context,
    )
    for distribution in host_distributions(sources):
        # Built from a copy: an in-tree build would leave build/ and *.egg-info in the sources.
        copy = context / "src" / distribution.name
        shutil.copytree(distribution, copy, ignore=shutil.ignore_patterns("__pycache__"))
        _step(
            log,
            f"building e2e/host/{distribution.name}",
            [*wheel, str(copy), "--wheel-dir", "wheels/project"],
            cwd=context,
        )
    shutil.rmtree(context / "src")
    target = context / "dynamodb-local"
    target.mkdir()
    shutil.copy(dynamodb_local / "DynamoDBLocal.jar", target)
    shutil.copytree(dynamodb_local / "DynamoDBLocal_lib", target / "DynamoDBLocal_lib")
    shutil.copytree(sources / "ddb-agent", context / "ddb-agent")


def remove_project_images(keep: str = "", log: Log = _log) -> None:
    """Every build of the project's image but `keep`: earlier content tags are dead weight
    (about 1.3 GB each)."""
    listed = _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", PROJECT_IMAGE)
    for name in listed.stdout.split():
        if name != keep and _docker("image", "rm", name).returncode == 0:
            log(f"removed {name}")


# --------------------------------------------------------------------------------------------
# The base


def ensure_base(log: Log = _log) -> str:
    """`python:3.13-slim-trixie` where a registry gives it, else the Debian-built base."""
    if pulled(PYTHON_BASE, log=lambda _: None):
        return PYTHON_BASE
    if image_id(DEBIAN_BASE):
        return DEBIAN_BASE
    log(f"{PYTHON_BASE} cannot be pulled here: building {DEBIAN_BASE} with debootstrap")
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        raise HarnessError(
            f"no registry gives {PYTHON_BASE}, and building a Debian base instead needs root "
            "and debootstrap (`apt-get install debootstrap`); or set LOCALSTACK_IMAGE to an "
            "image you have"
        )
    mirror = debian_mirror()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR, prefix="rootfs-") as work:
        root = Path(work) / "root"
        _step(
            log,
            f"debootstrap --variant=minbase trixie from {mirror}",
            ["debootstrap", "--variant=minbase", "trixie", str(root), mirror],
        )
        _step(
            log,
            f"docker import as {DEBIAN_BASE}",
            ["sh", "-c", f'tar -C "{root}" -c . | docker import - {DEBIAN_BASE}'],
        )
    return DEBIAN_BASE


def debian_mirror(sources: Path = Path("/etc/apt")) -> str:
    """DEBIAN_MIRROR, else the Debian archive this machine's apt uses, else deb.debian.org."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"]
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        pattern = r"(?:^deb\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(\S+)"
        for url in re.findall(pattern, text, re.M):
            if str(url).rstrip("/").endswith("/debian"):
                return str(url).rstrip("/")
    return DEFAULT_DEBIAN_MIRROR


def _step(log: Log, what: str, command: list[str], cwd: Path | str | None = None) -> None:
    log(what)
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise HarnessError(f"{what} failed (exit {result.returncode}):\n{tail}")
    log(f"  done in {time.monotonic() - started:.1f}s")


def main() -> int:
    try:
        tag = ensure_image()
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
