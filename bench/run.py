"""Benchmarks: the unit suite's wall time and the e2e cold cycle. Prints figures.

    python bench/run.py [--unit-runs 3] [--skip-e2e] [--first-install]

The cold cycle is one `pytest e2e` run: a fresh LocalStack is started, the CDK toolkit
bootstrapped, the stack deployed, the suite run and LocalStack stopped. LocalStack's first
install is timed apart: `--first-install` removes that install first to measure it.
The cycle always runs in host mode, the mode of CI and of machines without Docker.
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

from e2e.harness import host  # noqa: E402
from e2e.harness.paths import E2E_TIMINGS_FILE, STATE_ROOT  # noqa: E402

# Run state that a first-install measurement must not delete (`make local`, e2e sessions).
KEEP = {"state", "local", "e2e", "session.json"}


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
        # What LocalStack's host mode installed goes; package downloads stay cached.
        for path in STATE_ROOT.glob("*"):
            if path.name in KEEP:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    started = time.monotonic()
    host.install()
    label = "first install" if first_install else "install check (already installed)"
    print(f"LocalStack host {label}: {time.monotonic() - started:.1f} s")

    E2E_TIMINGS_FILE.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "e2e", "-q", "-p", "no:cacheprovider"]
    total = timed(command, env={"LOCALSTACK_MODE": "host"})
    phases = json.loads(E2E_TIMINGS_FILE.read_text())
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
    cold_start = [sys.executable, str(ROOT / "bench" / "cold_start.py")]
    if args.skip_e2e:
        cold_start.append("--skip-localstack")
    subprocess.run(cold_start, check=True)  # noqa: S603 - our own benchmark


if __name__ == "__main__":
    main()
