"""`make watch`: a saved change is served by the deployed function without a redeploy.

It edits a copy of lambda/ (the working tree is never touched), and gives the function its
deployed code back whatever happens, so the tests after it see the stack as deployed. It is
the last module in the suite's order.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from e2e.harness.deployment import Deployment
from e2e.harness.local import signed_headers
from e2e.harness.paths import E2E_DIR, HOT_RELOAD_ROOT
from e2e.harness.watch import MARKER_HEADER, SOURCE, Watcher, marker_edit

DEADLINE_SECONDS = 30  # generous: `make bench` measures the real edit-to-live time


def marker_served(deployment: Deployment) -> str | None:
    url = f"{deployment.api_url}/users?limit=1"
    response = requests.get(url, headers=signed_headers("GET", url), timeout=30)
    assert response.status_code == 200, response.text
    return response.headers.get(MARKER_HEADER)


def eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def code_dir() -> Iterator[Path]:
    """The watch's code folder: under the folder Docker mode mounts into LocalStack's container
    (at the same path), so that LocalStack reads what the watch writes in every mode."""
    folder = HOT_RELOAD_ROOT / f"e2e-{os.getpid()}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_saved_change_is_live_without_a_redeploy_and_the_deployed_code_returns(
    deployment: Deployment, aws: Any, tmp_path: Path, code_dir: Path
) -> None:
    lambda_client = aws("lambda")
    deployed = lambda_client.get_function_configuration(FunctionName=deployment.function_name)
    source = tmp_path / "lambda"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    watcher = Watcher(deployment, E2E_DIR / "cdk.out", code_dir, source, log=print)
    stop = threading.Event()
    loop = threading.Thread(target=watcher.loop, args=(stop,), daemon=True)
    # Given the function served from the watched folder
    watcher.start()
    try:
        loop.start()
        code = lambda_client.get_function(FunctionName=deployment.function_name)["Code"]
        assert code["Location"] == f"file://{code_dir.resolve()}"
        assert marker_served(deployment) is None
        # When a change to the handler is saved
        marker = uuid.uuid4().hex[:12]
        marker_edit(source, deployed["Handler"], marker)
        # Then the API serves it, with no deploy in between
        assert eventually(lambda: marker_served(deployment) == marker)
    finally:
        stop.set()
        loop.join(timeout=10)
        watcher.restore()
    # And once the watch ends, the function runs exactly the deployed code again
    restored = lambda_client.get_function_configuration(FunctionName=deployment.function_name)
    assert restored["CodeSha256"] == deployed["CodeSha256"]
    assert marker_served(deployment) is None
