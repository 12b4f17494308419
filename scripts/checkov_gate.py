"""checkov on the synthesized templates: no failed check, and no stale skip.

Runs in tox's `checkov` env (its own pins). First the gate itself: checkov with .checkov.yaml
must report 0 failed checks. Then each skip in .checkov.yaml must still match a failing check
when run alone, so a skip that no longer applies (or a misspelled id) is caught, as cdk-nag's
acknowledgements are by tests/infra/test_nag.py.

Usage: python scripts/checkov_gate.py TEMPLATE...
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

CONFIG = Path(__file__).resolve().parent.parent / ".checkov.yaml"


def checkov(arguments: list[str]) -> list[dict[str, Any]]:
    # checkov reads ./.checkov.yaml by itself: run it elsewhere so only `arguments` count.
    with tempfile.TemporaryDirectory() as elsewhere:
        completed = subprocess.run(  # noqa: S603 - checkov from this env, fixed arguments
            [sys.executable, "-m", "checkov.main", *arguments, "--output", "json"],
            capture_output=True,
            text=True,
            check=False,
            cwd=elsewhere,
        )
    if completed.returncode not in (0, 1):  # 1 means checks failed; anything else broke
        sys.exit(f"checkov exited {completed.returncode}:\n{completed.stderr}")
    report = json.loads(completed.stdout)
    return report if isinstance(report, list) else [report]


def failed_checks(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [check for report in reports for check in report["results"]["failed_checks"]]


def main(templates: list[str]) -> int:
    if not templates or not all(Path(t).is_file() for t in templates):
        sys.exit(f"templates not found: {templates}; `tox run -e lint` synthesizes them")
    files = [
        argument for template in templates for argument in ("--file", str(Path(template).resolve()))
    ]

    reports = checkov(["--config-file", str(CONFIG), *files])
    failed = failed_checks(reports)
    for check in failed:
        print(f"FAILED {check['check_id']} {check['check_name']}: {check['resource']}")
    passed = sum(report["summary"]["passed"] for report in reports)
    print(f"checkov: {passed} passed, {len(failed)} failed on {len(templates)} templates")

    skips = yaml.safe_load(CONFIG.read_text()).get("skip-check", [])
    unskipped = checkov(
        ["--framework", "cloudformation", "--skip-download", "--check", ",".join(skips), *files]
    )
    still_failing = {check["check_id"] for check in failed_checks(unskipped)}
    stale = sorted(set(skips) - still_failing)
    if stale:
        print(f"stale skips in .checkov.yaml (they match no failing check): {stale}")
    else:
        print(f"checkov: each of the {len(skips)} skips in .checkov.yaml matches a failing check")
    return 1 if failed or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
