"""MkDocs hook: the benchmarks page shows the figures of the last `make bench` run.

`bench/run.py` writes them to bench/results.json; the page's `<!-- bench-results -->` marker
becomes their table. Without the file the page says how to make one, and the build passes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER = "<!-- bench-results -->"
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results.json"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(RESULTS))


def on_serve(server: Any, **_: Any) -> Any:
    # `make docs` shows a new run's figures as soon as bench/run.py writes them.
    server.watch(str(RESULTS.parent))
    return server


def render(path: Path) -> str:
    if not path.is_file():
        return (
            '!!! note "No figures yet"\n'
            "    `make bench` measures them on your machine and writes `bench/results.json`;\n"
            "    this page then shows them (commit the file to publish them).\n"
        )
    results = json.loads(path.read_text(encoding="utf-8"))
    lines = [
        f"Recorded {results['recorded']} on {results['machine']}, Python {results['python']}.",
        "",
        "| what | median | range | runs | note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in results["figures"]:
        spread = f"{row['min']:.1f} to {row['max']:.1f} s" if row["runs"] > 1 else ""
        lines.append(
            f"| {row['what']} | {row['median']:.1f} s | {spread} | {row['runs']} | {row['note']} |"
        )
    if not results["figures"]:
        lines.append("| (the run measured none of these) | | | | |")
    cold_start = results.get("cold_start", "").rstrip()
    if cold_start:
        lines += ["", "Cold start (`bench/cold_start.py`), as it printed them:", ""]
        lines += ["```text", cold_start, "```"]
    return "\n".join(lines) + "\n"
