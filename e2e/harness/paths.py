"""Where the harness finds the project and keeps everything it generates."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Git-ignored: LocalStack's host install, each run's state, cdk.out of the e2e deploys.
STATE_ROOT = REPO_ROOT / ".localstack"
# The e2e suite's own folder: its LocalStack state, cdk.out, outputs and phase timings.
E2E_DIR = STATE_ROOT / "e2e"
E2E_TIMINGS_FILE = E2E_DIR / "timings.json"
# `make watch`'s code folders (one per user of it): mounted at the same path into LocalStack's
# container in Docker mode, so that hot reloading reads what the host writes.
HOT_RELOAD_ROOT = STATE_ROOT / "hot-reload"
