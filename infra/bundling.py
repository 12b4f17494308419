"""Bundles the function's code on the local machine: no Docker needed to synth or deploy.

The bundle ships bytecode: Lambda's code folder is read-only, so without it every new
environment compiles each module from source before the first request.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# Never copied from the code folder: tests, caches (the bundle compiles its own bytecode) and
# the requirements file itself.
# Lambda's Python runtime ships it (with its dependencies): the bundle does not.
RUNTIME_PROVIDED = "boto3"
EXCLUDED = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", "tests", "requirements.txt")

# Where Lambda unpacks the code: the file name compiled into tracebacks, the same on every
# machine, so that two synths of the same code bundle the same bytes.
TASK_ROOT = "/var/task"

Runner = Callable[[Sequence[str]], None]


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True)  # noqa: S603 - our own pip and compileall, fixed arguments


def runtime_interpreter(python_version: str) -> str:
    """A Python of the function's version: bytecode is specific to the interpreter's version."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    found = shutil.which(f"python{python_version}")
    if found is None:
        raise RuntimeError(
            f"bundling compiles the function's bytecode with Python {python_version}, its "
            f"runtime, but {sys.executable} is Python {sys.version.split()[0]} and no "
            f"python{python_version} is on PATH: synthesize from `make install`'s .venv"
        )
    return found


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """pip-installs the pinned requirements for the function's runtime, copies the code, then
    compiles all of it to bytecode for the runtime.

    `--platform`, `--python-version` and `--only-binary` make pip pick wheels for Lambda's
    interpreter, whatever Python runs the synth. `--no-deps` keeps boto3 out: the runtime
    has it, and the requirements file pins every transitive dependency itself. pip does not
    compile (`--no-compile`): one compile step covers the dependencies and our code alike.
    The bytecode is checked against nothing at import (`unchecked-hash`): the asset zip resets
    file times, which would make timestamp-checked bytecode look stale, and the code folder
    never changes once deployed.
    """

    def __init__(
        self,
        source: Path,
        *,
        python_version: str,
        platform: str,
        run: Runner = _run,
    ) -> None:
        self.source = source
        self.python_version = python_version
        self.platform = platform
        self.run = run

    def compile_command(self, output_dir: str) -> list[str]:
        return [
            runtime_interpreter(self.python_version),
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode=unchecked-hash",
            "-d",
            TASK_ROOT,
            "-j",
            "0",
            output_dir,
        ]

    def pip_command(self, output_dir: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-deps",
            "--only-binary=:all:",
            f"--platform={self.platform}",
            f"--python-version={self.python_version}",
            "--implementation=cp",
            f"--target={output_dir}",
            "--requirement",
            str(self.source / "requirements.txt"),
        ]

    def try_bundle(self, output_dir: str, *, image: object = None, **_: object) -> bool:
        if importlib.util.find_spec("pip") is None:
            raise RuntimeError(
                f"{sys.executable} has no pip, which bundles the function's code: "
                "synthesize from a virtual environment that has pip (e.g. `make install`)"
            )
        self.run(self.pip_command(output_dir))
        shutil.copytree(
            self.source, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*EXCLUDED)
        )
        self.run(self.compile_command(output_dir))
        return True


def bundled_code(source: Path, runtime: lambda_.Runtime, platform: str) -> lambda_.Code:
    python_version = runtime.name.removeprefix("python")
    return lambda_.Code.from_asset(
        str(source),
        exclude=list(EXCLUDED),
        # Hashed from the bundle itself: a change to how it is built (bytecode, say) is new code
        # to deploy even when the code folder did not change.
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # CDK requires an image; local bundling always succeeds or raises, so it is never used.
            image=runtime.bundling_image,
            local=PipLocalBundling(source, python_version=python_version, platform=platform),
        ),
    )


def runtime_distributions() -> list[importlib.metadata.Distribution]:
    """boto3 and everything it depends on, as installed here: what Lambda's Python runtime
    provides, so the bundle leaves it out (benchmarks and the bundle test link these in)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = [RUNTIME_PROVIDED]
    while pending:
        distribution = importlib.metadata.distribution(pending.pop())
        if distribution.name in found:
            continue
        found[distribution.name] = distribution
        pending += [
            re.split(r"[\s;<>=!~\[(]", requirement)[0]
            for requirement in distribution.requires or []
            if "extra ==" not in requirement
        ]
    return list(found.values())
