"""The function's bundle: pinned wheels for Lambda's interpreter, our code, and bytecode for all
of it that Lambda's read-only code folder can use as it is.

The bundle is built by the real bundler; only pip's download is replaced, by a copy of the
same pinned distributions from the test environment (unit tests need no network).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.bundling import TASK_ROOT, PipLocalBundling, runtime_distributions
from infra.function import CODE_DIR, RUNTIME

PYTHON_VERSION = RUNTIME.name.removeprefix("python")
# The tag of the runtime's bytecode files, e.g. `cpython-313`.
RUNTIME_TAG = f"cpython-{PYTHON_VERSION.replace('.', '')}"
UNCHECKED_HASH_FLAGS = 0b01  # PEP 552: hash-based, source not checked
# Lambda's runtime provides boto3 and its dependencies; the bundle leaves them out.


class RecordingRunner:
    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, command: Sequence[str]) -> None:
        self.commands.append(list(command))


class OfflineRunner:
    """Runs the bundler's commands, except that pip's install copies the pinned distributions
    installed here (their files as pip installs them, without bytecode: `--no-compile`)."""

    def __call__(self, command: Sequence[str]) -> None:
        if list(command[1:4]) == ["-m", "pip", "install"]:
            self._install(command)
        else:
            subprocess.run(command, check=True)

    @staticmethod
    def _install(command: Sequence[str]) -> None:
        target = Path(next(arg for arg in command if arg.startswith("--target=")).split("=", 1)[1])
        requirements = Path(command[command.index("--requirement") + 1])
        for line in requirements.read_text().splitlines():
            pin = line.split("#")[0].strip()
            if not pin:
                continue
            name, version = pin.split("==")
            distribution = importlib.metadata.distribution(name)
            assert distribution.version == version, f"the tests run {name} {distribution.version}"
            for file in distribution.files or []:
                if file.parts[0] == ".." or "__pycache__" in file.parts:
                    continue
                destination = target / file
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(str(distribution.locate_file(file)), destination)


def runtime_provided_packages() -> set[str]:
    """Top-level names of boto3 and its dependencies, as installed here."""
    return {
        file.parts[0].removesuffix(".py")
        for distribution in runtime_distributions()
        for file in distribution.files or []
    }


def imported_modules(bundle: Path, *, tracing: bool) -> dict[str, str]:
    """Module name -> file of everything `import handler` loads from a fresh interpreter with
    the bundle first on its path (as on Lambda), writing no bytecode."""
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(bundle)!r}]\n"
        f"sys.path += {sysconfig_site_packages()!r}\n"
        "import handler\n"
        "files = {name: getattr(m, '__file__', None) for name, m in sys.modules.items()}\n"
        "print(json.dumps({name: file for name, file in files.items() if file}))\n"
    )
    env = {
        "LAMBDA_TASK_ROOT": str(bundle),
        "AWS_LAMBDA_FUNCTION_NAME": "users-api-test",
        "AWS_REGION": "eu-west-1",
        "POWERTOOLS_TRACE_DISABLED": str(not tracing).lower(),
        "POWERTOOLS_SERVICE_NAME": "users-api",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules: dict[str, str] = json.loads(result.stdout)
    return modules


def sysconfig_site_packages() -> list[str]:
    return [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]


def bytecode_problem(source: Path) -> str | None:
    """Why Lambda's interpreter would compile `source` at import, or None if it would not."""
    cached = source.parent / "__pycache__" / f"{source.stem}.{RUNTIME_TAG}.pyc"
    if not cached.is_file():
        return f"no {cached.name}"
    header = cached.read_bytes()[:16]
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return "bytecode of another Python version"
    if int.from_bytes(header[4:8], "little") != UNCHECKED_HASH_FLAGS:
        return "bytecode checked against the source (the asset zip resets file times)"
    if header[8:16] != importlib.util.source_hash(source.read_bytes()):
        return "bytecode of another source"
    return None


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("bundle")
    PipLocalBundling(
        CODE_DIR,
        python_version=PYTHON_VERSION,
        platform="manylinux2014_x86_64",
        run=OfflineRunner(),
    ).try_bundle(str(output), image=None)
    return output


@dataclass(frozen=True)
class Imported:
    tracing: bool
    modules: dict[str, str]


@pytest.fixture(scope="module", params=[True, False], ids=["tracing on", "tracing off"])
def imported(bundle: Path, request: pytest.FixtureRequest) -> Imported:
    """What `import handler` loads from the bundle, in each tracing configuration."""
    tracing = bool(request.param)
    return Imported(tracing, imported_modules(bundle, tracing=tracing))


def test_bundling_installs_for_the_runtime_then_compiles_without_docker(tmp_path: Path) -> None:
    # Given a code folder with tests, caches and a requirements file
    source = tmp_path / "lambda"
    (source / "tests").mkdir(parents=True)
    (source / "__pycache__").mkdir()
    (source / "handler.py").write_text("def lambda_handler(event, context): ...\n")
    (source / "requirements.txt").write_text("aws-lambda-powertools==3.37.0\n")
    (source / "tests" / "test_x.py").write_text("")
    (source / "__pycache__" / "handler.cpython-313.pyc").write_bytes(b"")
    runner = RecordingRunner()
    output = tmp_path / "out"
    output.mkdir()

    # When the local bundler runs
    bundled = PipLocalBundling(
        source, python_version="3.13", platform="manylinux2014_x86_64", run=runner
    ).try_bundle(str(output), image=None)

    # Then pip installed the pinned requirements for Lambda's interpreter, without boto3
    assert bundled is True
    install, compile_all = runner.commands
    assert install[1:4] == ["-m", "pip", "install"]
    for flag in (
        "--no-deps",
        "--only-binary=:all:",
        "--platform=manylinux2014_x86_64",
        "--python-version=3.13",
        f"--target={output}",
    ):
        assert flag in install
    assert install[-1] == str(source / "requirements.txt")
    # And only the code was copied: no tests, caches or requirements file
    assert sorted(path.name for path in output.iterdir()) == ["handler.py"]
    # And then everything in the bundle was compiled by a Python 3.13, checked by nothing
    interpreter = subprocess.run(
        [compile_all[0], "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert interpreter.stdout.strip() == "(3, 13)"
    assert compile_all[1:3] == ["-m", "compileall"]
    assert "--invalidation-mode=unchecked-hash" in compile_all
    assert compile_all[-1] == str(output)
    # With Lambda's path for the code in tracebacks, the same on every machine
    assert compile_all[compile_all.index("-d") + 1] == TASK_ROOT


def test_every_module_the_handler_imports_from_the_bundle_has_its_bytecode(
    bundle: Path, imported: Imported
) -> None:
    # Given the bundle the bundler builds from the function's code folder
    # When a fresh interpreter imports the handler from it, as Lambda does
    modules = imported.modules

    # Then every source file it loaded from the bundle has bytecode Lambda's Python uses as is
    from_bundle = {
        name: Path(file) for name, file in modules.items() if Path(file).is_relative_to(bundle)
    }
    sources = {name: file for name, file in from_bundle.items() if file.suffix == ".py"}
    problems = {name: bytecode_problem(file) for name, file in sources.items()}
    assert {name: problem for name, problem in problems.items() if problem} == {}
    # And that covers our code and the bundled dependencies, the tracer's SDK only when on
    for expected in ("handler", "users_api.api", "aws_lambda_powertools.logging"):
        assert expected in sources
    # (the function routes requests itself: Powertools' event handler costs a cold start ~25 ms)
    assert "aws_lambda_powertools.event_handler" not in sources
    assert ("aws_xray_sdk.core" in sources) is imported.tracing
    assert len(sources) > 50  # our modules and the dependencies they import


def test_the_handler_imports_nothing_the_bundle_lacks_but_what_lambda_provides(
    bundle: Path, imported: Imported
) -> None:
    # Given the bundle and what Lambda's runtime provides: the standard library and boto3
    stdlib = [Path(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")]
    provided = runtime_provided_packages()

    # When a fresh interpreter imports the handler from the bundle
    modules = imported.modules

    # Then every module came from the bundle, the standard library or boto3 and its dependencies
    missing = {
        name: file
        for name, file in modules.items()
        if not Path(file).is_relative_to(bundle)
        and not any(Path(file).is_relative_to(folder) for folder in stdlib)
        and name.split(".")[0] not in provided
    }
    assert missing == {}
