"""Earlier releases of this repository: checked out beside it, installed and deployed with their
own tools (their Makefile, pins, CDK app and harness), so an upgrade starts from exactly what
that release deployed.

Each release is a detached `git worktree` under `.localstack/releases/<commit>`, kept between
runs: its install is done once.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.harness.deploy import run_quietly
from e2e.harness.modes import HarnessError
from e2e.harness.paths import REPO_ROOT, STATE_ROOT

# The releases an upgrade must start from, oldest first: one commit (or ref) a line, '#' comments.
SUPPORTED_RELEASES_FILE = REPO_ROOT / "upgrade" / "releases.txt"
CHECKOUTS = STATE_ROOT / "releases"

# Run inside the release's own virtual environment: its harness deploys its own app.
_DEPLOY_WITH_ITS_HARNESS = (
    "import sys; from pathlib import Path; from e2e.harness.deploy import deploy; "
    "deploy(sys.argv[1], Path(sys.argv[2]))"
)


@dataclass(frozen=True)
class Release:
    ref: str
    commit: str
    path: Path

    @property
    def label(self) -> str:
        return self.ref if self.ref.startswith(self.commit[:7]) else f"{self.ref} ({self.short})"

    @property
    def short(self) -> str:
        return self.commit[:7]


def supported_releases(text: str | None = None) -> list[str]:
    """The refs in `upgrade/releases.txt` (or `text`), in order."""
    if text is None:
        text = SUPPORTED_RELEASES_FILE.read_text()
    refs = []
    for line in text.splitlines():
        ref = line.split("#", 1)[0].strip()
        if ref:
            refs.append(ref)
    return refs


def requested_releases(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """`UPGRADE_FROM` (refs separated by spaces or commas), else every supported release."""
    raw = environ.get("UPGRADE_FROM", "").replace(",", " ").split()
    return raw or supported_releases()


def resolve(ref: str) -> str:
    result = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode != 0:
        raise HarnessError(
            f"UPGRADE_FROM={ref} is not a commit of this repository; in a shallow clone, "
            "fetch the history first (`git fetch --unshallow`)"
        )
    return result.stdout.strip()


def checkout(ref: str, log: Any = print) -> Release:
    """The release's worktree, made on first use (detached: it never moves a branch)."""
    commit = resolve(ref)
    path = CHECKOUTS / commit
    if not (path / ".git").exists():
        log(f"Checking out {ref} into {path.relative_to(REPO_ROOT)} ...")
        CHECKOUTS.mkdir(parents=True, exist_ok=True)
        _git("worktree", "prune")  # a folder removed by hand leaves a stale registration
        result = _git("worktree", "add", "--force", "--detach", str(path), commit)
        if result.returncode != 0:
            raise HarnessError(f"`git worktree add` for {ref} failed: {result.stderr.strip()}")
    return Release(ref=ref, commit=commit, path=path)


def install(release: Release, log: Any = print) -> None:
    """`make install` of the release itself: its own pins, its own CLIs (once per checkout)."""
    if (release.path / ".venv" / ".installed").exists() and (
        release.path / "node_modules" / ".installed"
    ).exists():
        return
    log(f"Installing {release.label} with its own `make install` ...")
    # Its Makefile finds its own interpreter; ours must not leak into it.
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL")
    }
    returncode, stdout, stderr = run_quietly(["make", "install"], cwd=release.path, env=env)
    if returncode != 0:
        raise HarnessError(
            f"`make install` of {release.label} failed (exit {returncode}):\n"
            f"{stdout[-3000:]}\n{stderr[-3000:]}"
        )


def deploy(release: Release, endpoint: str, work_dir: Path, log: Any = print) -> dict[str, str]:
    """Deploy the release into LocalStack with its own harness; its stack outputs."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log(f"Deploying {release.label} with its own harness ...")
    python = release.path / ".venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    returncode, stdout, stderr = run_quietly(
        [str(python), "-c", _DEPLOY_WITH_ITS_HARNESS, endpoint, str(work_dir)],
        cwd=release.path,
        env=env,
    )
    if returncode != 0:
        raise HarnessError(
            f"Deploying {release.label} failed (exit {returncode}):\n"
            f"{stdout[-4000:]}\n{stderr[-4000:]}"
        )
    outputs: dict[str, dict[str, str]] = json.loads((work_dir / "outputs.json").read_text())
    (values,) = outputs.values()
    return values


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
