"""Cold start: the function's import against a bare boto3 handler's, its asset's size, and the
first request after a configuration change on LocalStack against a bare function's. Prints figures.

    python bench/cold_start.py [--runs 21] [--localstack-runs 5] [--skip-localstack]

Import: the asset exactly as `cdk synth` bundles it, copied to a read-only folder with the
file times the asset zip gives it (so no bytecode can be written and timestamps do not
match, as on Lambda), imported by a fresh Python 3.13 (the one `scripts/find-python313`
finds) with nothing on its path but the code folder, the standard library and boto3 (which
Lambda's runtime provides). `import handler` against `import boto3`, which is all a bare
boto3 handler imports, alternating, in fresh processes; the figures are medians. The
function is imported as deployed (tracing on) and with tracing off.

LocalStack (host mode, started by the e2e harness beside nothing else): the stack is deployed
with a bare boto3 function beside it that does the same calls as our first request (SSM
GetParameters, DynamoDB GetItem) and answers 404. Each round changes both functions'
configuration, which gives each a new execution environment, and times its first invocation
(a GET of an unknown user) and a second, warm one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cold_start_localstack import ENVIRONMENT, localstack_benchmark, median_ms  # noqa: E402

from infra.bundling import runtime_distributions  # noqa: E402
from infra.names import HANDLER  # noqa: E402

# What the asset zip gives every file (its entries carry no real times).
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
BOTO3 = "boto3"


@dataclass(frozen=True)
class Asset:
    path: Path
    environment: dict[str, str]
    memory_mb: int


def python313() -> str:
    finder = str(ROOT / "scripts" / "find-python313")
    result = subprocess.run([finder], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        sys.exit(result.stderr.strip())
    return result.stdout.strip()


# --- the asset ---------------------------------------------------------------------------------


def synth_asset(outdir: Path) -> Asset:
    """`cdk synth` of the dev stack; the function's bundled asset and its configuration."""
    command = [
        str(ROOT / "node_modules" / ".bin" / "cdk"),
        "synth",
        "-c",
        f"environment={ENVIRONMENT}",
        "--output",
        str(outdir),
        "--quiet",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        sys.exit(f"cdk synth failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    template = json.loads((outdir / f"UsersApi-{ENVIRONMENT}.template.json").read_text())
    (function,) = (
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Handler") == HANDLER
    )
    variables = function["Properties"]["Environment"]["Variables"]
    return Asset(
        path=outdir / function["Metadata"]["aws:asset:path"],
        environment={name: value for name, value in variables.items() if isinstance(value, str)},
        memory_mb=int(function["Properties"]["MemorySize"]),
    )


def read_only_copy(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, symlinks=True)
    for path in sorted(destination.rglob("*"), reverse=True):  # files before their folders
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
        if not path.is_symlink():
            path.chmod(0o555 if path.is_dir() else 0o444)
    destination.chmod(0o555)
    return destination


def make_writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


def asset_size(asset: Path) -> str:
    files = [path for path in asset.rglob("*") if path.is_file()]
    unzipped = sum(path.stat().st_size for path in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(asset))
    sources = sum(path.suffix == ".py" for path in files)
    compiled = sum(path.suffix == ".pyc" for path in files)
    return (
        f"{unzipped / 1e6:.1f} MB unzipped, {len(buffer.getvalue()) / 1e6:.1f} MB zipped "
        f"(Lambda allows 250 MB / 50 MB); {len(files)} files, {sources} .py, {compiled} .pyc"
    )


# --- import time -------------------------------------------------------------------------------


def lambda_runtime_dir(folder: Path) -> Path:
    """boto3 and its dependencies, as Lambda's runtime provides them: links to this venv's."""
    folder.mkdir()
    (folder / "__pycache__").mkdir()
    for distribution in runtime_distributions():
        for file in distribution.files or []:
            top = file.parts[0]
            if top.endswith(".dist-info") or top in ("..", "__pycache__", "bin"):
                continue
            link = folder / top
            if not link.exists():
                link.symlink_to(Path(str(distribution.locate_file(top))))
            if top.endswith(".py"):  # a top-level module: its bytecode sits beside it
                cached = Path(str(distribution.locate_file(file))).parent / "__pycache__"
                for pyc in cached.glob(f"{top.removesuffix('.py')}.*.pyc"):
                    (folder / "__pycache__" / pyc.name).symlink_to(pyc)
    return folder


def import_ms(
    python: str, path: list[Path], module: str, env: dict[str, str]
) -> tuple[float, float]:
    """Milliseconds (wall clock, CPU) to import `module` in a new interpreter that cannot
    write bytecode. CPU time is the steadier figure on a busy machine."""
    code = (
        "import sys, time\n"
        f"sys.path[:0] = {[str(p) for p in path]!r}\n"
        "wall, cpu = time.perf_counter(), time.process_time()\n"
        f"import {module}\n"
        "print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)\n"
    )
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [python, "-I", "-S", "-B", "-c", code], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"import {module} failed:\n{result.stderr[-3000:]}")
    wall, cpu = result.stdout.split()[-2:]
    return float(wall), float(cpu)


def lambda_environment(asset: Asset, task_root: Path, tracing: bool) -> dict[str, str]:
    """The function's variables as synthesized plus those Lambda sets itself."""
    return {
        **asset.environment,
        "POWERTOOLS_TRACE_DISABLED": str(not tracing).lower(),
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": f"UsersApi-{ENVIRONMENT}-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(asset.memory_mb),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_HANDLER": HANDLER,
        "TZ": ":UTC",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }


def import_benchmark(asset: Asset, runs: int, work: Path) -> None:
    python = python313()
    task_root = read_only_copy(asset.path, work / "task")
    runtime = lambda_runtime_dir(work / "runtime")
    path = [task_root, runtime]
    cases: dict[str, tuple[str, dict[str, str]]] = {
        "import boto3 (all a bare handler imports)": (
            BOTO3,
            lambda_environment(asset, task_root, tracing=True),
        ),
        "import handler, as deployed (tracing on)": (
            "handler",
            lambda_environment(asset, task_root, tracing=True),
        ),
        "import handler, tracing off": (
            "handler",
            lambda_environment(asset, task_root, tracing=False),
        ),
    }
    wall: dict[str, list[float]] = {label: [] for label in cases}
    cpu: dict[str, list[float]] = {label: [] for label in cases}
    labels = list(cases)
    for run in range(runs):
        # Alternate the order so that neither side always runs on a warmer machine.
        for label in labels if run % 2 == 0 else reversed(labels):
            module, env = cases[label]
            wall_ms, cpu_ms = import_ms(python, path, module, env)
            wall[label].append(wall_ms)
            cpu[label].append(cpu_ms)
    make_writable(task_root)

    print(f"cold start: import in a fresh Python 3.13, code folder read-only, {runs} runs each")
    print(f"  {'median (min-max)':<42} {'wall clock':<26} CPU time")
    for label in labels:
        figures = [
            f"{median_ms(samples[label])} {ratio(samples, label, labels[0]):.2f}x"
            for samples in (wall, cpu)
        ]
        print(f"  {label:<42} {figures[0]:<26} {figures[1]}")


def ratio(samples: dict[str, list[float]], label: str, baseline: str) -> float:
    return statistics.median(samples[label]) / statistics.median(samples[baseline])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--localstack-runs", type=int, default=5)
    parser.add_argument("--skip-localstack", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold-start-") as folder:
        work = Path(folder)
        asset = synth_asset(work / "cdk.out")
        print(f"function asset: {asset_size(asset.path)}")
        import_benchmark(asset, args.runs, work)
    if not args.skip_localstack:
        localstack_benchmark(args.localstack_runs)


if __name__ == "__main__":
    main()
