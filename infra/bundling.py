"""Bundles the function's code on the local machine: no Docker needed to synth or deploy."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# Never shipped: tests, caches and the requirements file itself.
EXCLUDED = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", "tests", "requirements.txt")

Runner = Callable[[Sequence[str]], None]


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True)  # noqa: S603 - our own pip, fixed arguments


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """pip-installs the pinned requirements for the function's runtime, then copies the code.

    `--platform`, `--python-version` and `--only-binary` make pip pick wheels for Lambda's
    interpreter, whatever Python runs the synth. `--no-deps` keeps boto3 out: the runtime
    has it, and the requirements file pins every transitive dependency itself.
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
        return True


def bundled_code(source: Path, runtime: lambda_.Runtime, platform: str) -> lambda_.Code:
    python_version = runtime.name.removeprefix("python")
    return lambda_.Code.from_asset(
        str(source),
        exclude=list(EXCLUDED),
        bundling=BundlingOptions(
            # CDK requires an image; local bundling always succeeds or raises, so it is never used.
            image=runtime.bundling_image,
            local=PipLocalBundling(source, python_version=python_version, platform=platform),
        ),
    )
