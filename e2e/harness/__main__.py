"""`make local` / `make local-down`: LocalStack with the stack deployed, for a person to use.

python -m e2e.harness up     start LocalStack (automatic mode), bootstrap, deploy, try it
python -m e2e.harness down   stop it and remove its state
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import requests

from e2e.harness import docker, host
from e2e.harness.deploy import deploy
from e2e.harness.deployment import Deployment
from e2e.harness.modes import HarnessError, Mode, select_mode
from e2e.harness.paths import STATE_ROOT
from e2e.harness.session import COMPOSE_PROJECT, DEFAULT_PORT, LocalStack, start_localstack

SESSION_FILE = STATE_ROOT / "session.json"
DEPLOY_DIR = STATE_ROOT / "local"
SAMPLE_USER = {"name": "Ada Lovelace", "email": "ada@example.com"}


def up() -> None:
    if SESSION_FILE.exists():
        raise HarnessError("LocalStack from `make local` is already up; `make local-down` first")
    mode = select_mode(os.environ)
    port = int(os.environ.get("LOCALSTACK_PORT", DEFAULT_PORT))
    print(f"Starting LocalStack ({mode} mode) on port {port} ...")
    # Written first, so that `make local-down` cleans up after a start that failed halfway.
    STATE_ROOT.mkdir(exist_ok=True)
    SESSION_FILE.write_text(json.dumps({"mode": mode, "port": port}))
    started = time.monotonic()
    localstack = start_localstack(mode, port, endpoint=os.environ.get("LOCALSTACK_ENDPOINT"))
    print(f"LocalStack ready at {localstack.endpoint} in {time.monotonic() - started:.1f}s")
    try:
        deployment = deploy(localstack.endpoint, DEPLOY_DIR)
    except Exception:
        print(localstack.log_tail(), file=sys.stderr)
        print("LocalStack is still up for a look: `make local-down` stops it", file=sys.stderr)
        raise
    show_sample_request(deployment)


def show_sample_request(deployment: Deployment) -> None:
    url = deployment.api_url
    response = requests.post(f"{url}/users", json=SAMPLE_USER, timeout=30)
    print(f"\nAPI URL: {url}/")
    print(
        f"\n$ curl -s -X POST {url}/users -H 'Content-Type: application/json' "
        f"-d '{json.dumps(SAMPLE_USER)}'"
    )
    print(f"HTTP {response.status_code}\n{json.dumps(response.json(), indent=2)}")
    print(f"\nTry also:  curl -s {url}/users   |   curl -s {url}/")
    print("Stop it with:  make local-down")


def down() -> None:
    if not SESSION_FILE.exists():
        print("Nothing to stop: `make local` is not up")
        return
    session = json.loads(SESSION_FILE.read_text())
    localstack: LocalStack | None
    if session["mode"] == Mode.HOST:
        localstack = host.attach()
    elif session["mode"] == Mode.DOCKER:
        localstack = docker.DockerLocalStack(COMPOSE_PROJECT, session["port"])
    else:
        localstack = None  # external: not ours to stop
    if localstack is not None:
        localstack.stop()
    shutil.rmtree(DEPLOY_DIR, ignore_errors=True)
    shutil.rmtree(host.default_state_dir(), ignore_errors=True)
    SESSION_FILE.unlink()
    print(f"LocalStack ({session['mode']} mode) stopped and its state removed")


def main(argv: list[str]) -> int:
    commands = {"up": up, "down": down}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        commands[argv[0]]()
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
