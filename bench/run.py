"""Benchmarks: the unit suite's wall time and the e2e cold cycle. Prints figures.

    python bench/run.py [--unit-runs 3] [--skip-e2e] [--first-install]

The cold cycle is one `pytest e2e` run: a fresh LocalStack is started, the CDK toolkit
bootstrapped, the stack deployed, the suite run and LocalStack stopped. LocalStack's first
install is timed apart: `--first-install` removes `.localstack/` first to measure it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from e2e.conftest import TIMINGS_FILE  # noqa: E402
from e2e.harness import host  # noqa: E402
from e2e.harness.session import STATE_ROOT  # noqa: E402


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own test commands
        command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}")
    return time.monotonic() - started


def unit_suite(runs: int) -> None:
    command = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"]
    times = [timed(command) for _ in range(runs)]
    print(f"unit suite (pytest tests), {runs} runs on {os.cpu_count()} cores:")
    low, median, high = min(times), statistics.median(times), max(times)
    print(f"  min {low:.1f} s   median {median:.1f} s   max {high:.1f} s")


def e2e_cycle(first_install: bool) -> None:
    if first_install:
        # Everything LocalStack's host mode installed goes; package downloads stay cached.
        shutil.rmtree(STATE_ROOT, ignore_errors=True)
    started = time.monotonic()
    host.install()
    label = "first install" if first_install else "install check (already installed)"
    print(f"LocalStack host {label}: {time.monotonic() - started:.1f} s")

    TIMINGS_FILE.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "e2e", "-q", "-p", "no:cacheprovider"]
    total = timed(command, env={"LOCALSTACK_MODE": os.environ.get("LOCALSTACK_MODE", "host")})
    phases = json.loads(TIMINGS_FILE.read_text())
    suite = total - sum(phases.values())
    print("e2e cold cycle (host mode):")
    for phase in ("start", "bootstrap", "deploy"):
        print(f"  {phase:<10} {phases[phase]:5.1f} s")
    print(f"  {'suite':<10} {suite:5.1f} s   (tests plus pytest start-up)")
    print(f"  {'stop':<10} {phases['stop']:5.1f} s")
    print(f"  {'total':<10} {total:5.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit-runs", type=int, default=3)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--first-install", action="store_true")
    args = parser.parse_args()
    unit_suite(args.unit_runs)
    if not args.skip_e2e:
        e2e_cycle(args.first_install)


if __name__ == "__main__":
    main()
