"""Benchmarks: the unit suite, the e2e cold cycle and the dev loop. Prints figures.

Also writes them to bench/results.json, which the docs site's benchmarks page renders.

    python bench/run.py [--unit-runs 3 (0: none)] [--skip-e2e] [--skip-dev-loop] [--first-install]
                        [--edits 5] [--modes host,docker] [--image-cold]

The cold cycle is one `pytest e2e` run: a fresh LocalStack is started, the CDK toolkit
bootstrapped, the stack deployed, the suite run and LocalStack stopped. LocalStack's first
install is timed apart: `--first-install` removes that install first to measure it.
The cycle and the dev loop run in each of `--modes`: host, and docker where a Docker engine
and Compose v2 answer (default). Docker mode also times the project's image (`make image`):
`--image-cold` removes it first to time a full build; the cached figure is the check that
finds it current.

The dev loop uses `make local` (started here, on a free port, and stopped at the end, unless
it is up already): a re-run with nothing changed, a re-run after a code change (a new file
under lambda/, removed again), and the edit-to-live time under `make watch` (edits to a copy
of lambda/, until the API answers with the edit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from e2e.harness import host, image, local  # noqa: E402
from e2e.harness.modes import compose_answers, docker_daemon_answers  # noqa: E402
from e2e.harness.paths import E2E_TIMINGS_FILE, HOT_RELOAD_ROOT, STATE_ROOT  # noqa: E402
from e2e.harness.watch import (  # noqa: E402
    MARKER_HEADER,
    SOURCE,
    Watcher,
    load_deployment,
    marker_edit,
)
from infra.names import HANDLER  # noqa: E402

# Run state that a first-install measurement must not delete (`make local`, e2e sessions).
KEEP = {"state", "local", "e2e", "session.json"}
# The figures as data (docs/hooks/bench.py renders them): rows of what, seconds, note.
RESULTS_FILE = ROOT / "bench" / "results.json"
FIGURES: list[dict[str, object]] = []


def record(what: str, seconds: float | list[float], note: str = "") -> None:
    runs = seconds if isinstance(seconds, list) else [seconds]
    FIGURES.append(
        {
            "what": what,
            "min": round(min(runs), 2),
            "median": round(statistics.median(runs), 2),
            "max": round(max(runs), 2),
            "runs": len(runs),
            "note": note,
        }
    )


def write_results(cold_start: str) -> None:
    results = {
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "figures": FIGURES,
        "cold_start": cold_start,
    }
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {RESULTS_FILE.relative_to(ROOT)}")


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
    record("unit suite (`pytest tests`)", times)


def image_build(cold: bool) -> None:
    """The project's image: a full build (cold), and the check that finds it current."""
    if cold:
        image.remove_project_images()
        built = timed([sys.executable, "-m", "e2e.harness.image"])
        print(f"project image, full build (base and package downloads cached): {built:.1f} s")
        record("project image (`make image`): full build", built, "docker mode")
    cached = timed([sys.executable, "-m", "e2e.harness.image"])
    print(f"project image, up to date (content hash check): {cached:.1f} s")
    record("project image (`make image`): up to date", cached, "docker mode")


def e2e_cycle(first_install: bool, mode: str = "host") -> None:
    if first_install and mode == "host":
        # What LocalStack's host mode installed goes; package downloads stay cached.
        for path in STATE_ROOT.glob("*"):
            if path.name in KEEP:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    if mode == "host":
        started = time.monotonic()
        host.install()
        label = "first install" if first_install else "install check (already installed)"
        print(f"LocalStack host {label}: {time.monotonic() - started:.1f} s")
        record(f"LocalStack host {label}", time.monotonic() - started)

    E2E_TIMINGS_FILE.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "e2e", "-q", "-p", "no:cacheprovider"]
    total = timed(command, env={"LOCALSTACK_MODE": mode})
    phases = json.loads(E2E_TIMINGS_FILE.read_text())
    suite = total - sum(phases.values())
    print(f"e2e cold cycle ({mode} mode):")
    for phase in ("start", "bootstrap", "deploy"):
        print(f"  {phase:<10} {phases[phase]:5.1f} s")
    print(f"  {'suite':<10} {suite:5.1f} s   (tests plus pytest start-up)")
    print(f"  {'stop':<10} {phases['stop']:5.1f} s")
    print(f"  {'total':<10} {total:5.1f} s")
    for phase in ("start", "bootstrap", "deploy"):
        record(f"e2e cold cycle: {phase}", phases[phase], f"{mode} mode")
    record("e2e cold cycle: the suite", suite, f"{mode} mode, tests plus pytest start-up")
    record("e2e cold cycle: stop", phases["stop"], f"{mode} mode")
    record("e2e cold cycle: total", total, f"{mode} mode")


def make_local(env: dict[str, str]) -> float:
    return timed([sys.executable, "-m", "e2e.harness", "up"], env=env)


def dev_loop(edits: int, mode: str = "host") -> None:
    started_here = local.Session.load() is None
    env = {"LOCALSTACK_MODE": mode}
    if started_here:
        env["LOCALSTACK_PORT"] = str(host.free_port())
    change = SOURCE / "_bench_change.py"  # a new file: no source file is ever edited
    try:
        if started_here:
            first = make_local(env)
            print(f"make local, first start ({mode} mode): {first:.1f} s")
            record("`make local`, first start", first, f"{mode} mode")
        unchanged = make_local(env)
        change.write_text(f"# {time.time()}\n")
        changed = make_local(env)
        change.unlink()
        changed_back = make_local(env)
        session = local.Session.load()
        print(f"make local re-run while up (hotswap, {session.mode if session else '?'} mode):")
        print(f"  nothing changed         {unchanged:5.1f} s")
        print(f"  code changed            {changed:5.1f} s   (and back: {changed_back:.1f} s)")
        note = f"{session.mode if session else mode} mode"
        record("`make local` re-run while up, nothing changed", unchanged, note)
        rerun = [changed, changed_back]
        record("`make local` re-run while up, code changed (hotswap)", rerun, note)
        edit_to_live(edits, mode)
    finally:
        change.unlink(missing_ok=True)
        if started_here:
            timed([sys.executable, "-m", "e2e.harness", "down"])


def edit_to_live(edits: int, mode: str = "host") -> None:
    session = local.Session.load()
    assert session is not None
    deployment = load_deployment(session.endpoint, local.DEPLOY_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "lambda"
        shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
        # Under the folder Docker mode mounts into LocalStack's container.
        code = HOT_RELOAD_ROOT / f"bench-{os.getpid()}"
        cloud_assembly = local.DEPLOY_DIR / "cdk.out"
        watcher = Watcher(deployment, cloud_assembly, code, source, log=lambda _: None)
        stop = threading.Event()
        loop = threading.Thread(target=watcher.loop, args=(stop,), daemon=True)
        watcher.start()
        loop.start()
        times = []
        try:
            marker_served(deployment.api_url)  # the first call of the watched code: a cold start
            for _ in range(edits):
                marker = uuid.uuid4().hex[:12]
                saved = time.monotonic()
                marker_edit(source, HANDLER, marker)
                while marker_served(deployment.api_url) != marker:
                    if time.monotonic() - saved > 60:
                        sys.exit("an edit under `make watch` was not live after 60 s")
                    time.sleep(0.05)
                times.append(time.monotonic() - saved)
        finally:
            stop.set()
            loop.join()
            watcher.restore()
            shutil.rmtree(code, ignore_errors=True)
    low, median, high = min(times), statistics.median(times), max(times)
    print(f"make watch, edit saved to edit served, {edits} edits:")
    print(f"  min {low:.1f} s   median {median:.1f} s   max {high:.1f} s")
    record("`make watch`: edit saved to edit served", times, f"{mode} mode")


def marker_served(api_url: str) -> str | None:
    response = requests.get(f"{api_url}/users?limit=1", timeout=30)
    return response.headers.get(MARKER_HEADER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit-runs", type=int, default=3, help="0 skips the unit suite")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-dev-loop", action="store_true")
    parser.add_argument("--first-install", action="store_true")
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--modes", help="host,docker (default: docker too where it can run)")
    parser.add_argument("--image-cold", action="store_true", help="time a full image build")
    args = parser.parse_args()
    docker_ready = docker_daemon_answers() and compose_answers()
    modes = args.modes.split(",") if args.modes else ["host"] + (["docker"] * docker_ready)
    # A `kill` ends the benchmark like Ctrl-C: the finally blocks put everything back.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.unit_runs:
        unit_suite(args.unit_runs)
    if "docker" in modes:
        image_build(args.image_cold)
    for mode in modes:
        if not args.skip_e2e:
            e2e_cycle(args.first_install, mode)
        if not args.skip_dev_loop:
            dev_loop(args.edits, mode)
    cold_start = [sys.executable, str(ROOT / "bench" / "cold_start.py")]
    if args.skip_e2e:
        cold_start.append("--skip-localstack")
    # Its figures, printed once it ends, are kept as text beside the others.
    printed = subprocess.run(cold_start, check=True, stdout=subprocess.PIPE, text=True)  # noqa: S603
    print(printed.stdout, end="")
    write_results(printed.stdout)


if __name__ == "__main__":
    main()
