"""Where the least-privilege tables go: files CI keeps, printed at the end of the session."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from e2e.harness.paths import E2E_DIR

FUNCTION_REPORT: Final = E2E_DIR / "least-privilege-function.md"
CALLERS_REPORT: Final = E2E_DIR / "least-privilege-callers.md"
# The tables written by this session, for the terminal summary (e2e/conftest.py).
REPORTS_WRITTEN: list[Path] = []


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if path not in REPORTS_WRITTEN:
        REPORTS_WRITTEN.append(path)
