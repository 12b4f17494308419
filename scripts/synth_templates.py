"""Synthesizes the dev and prod templates for the static gates (no bundling, no network).

Usage: python scripts/synth_templates.py OUTDIR
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aws_cdk import App

from main import build_stack

ENVIRONMENTS = ("dev", "prod")


def synth(outdir: Path) -> list[Path]:
    templates = []
    for environment in ENVIRONMENTS:
        app = App(
            outdir=str(outdir / environment),
            context={"environment": environment, "aws:cdk:bundling-stacks": []},
        )
        stack = build_stack(app)
        app.synth()
        templates.append(outdir / environment / stack.template_file)
    return templates


if __name__ == "__main__":
    for template in synth(Path(sys.argv[1])):
        print(template)
