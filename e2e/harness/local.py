"""`make local`'s lifecycle: safe to run at any time.

- nothing up: check the port, start LocalStack, deploy, print the API URL and sample calls;
- up already (the LocalStack this checkout started answers): deploy what changed (hotswap);
- a stale session (nothing answers, the process is gone, or another LocalStack now holds the
  port): clean it up, then start afresh; in Docker mode a `users-api` compose project left
  without a record goes first too;
- Ctrl-C during a first start stops what it started; during a redeploy LocalStack stays up
  (it holds your data) and one line says how to stop it.

`make watch` (`watch()`) serves lambda/ to that LocalStack until Ctrl-C (watch.py syncs).

`session.json` records the mode, the port and LocalStack's `session_id` (new at every start),
so a LocalStack that this checkout did not start is never deployed into.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e.harness import docker, host
from e2e.harness.deploy import REGION, deploy
from e2e.harness.deployment import Deployment
from e2e.harness.modes import HarnessError, Mode, select_mode
from e2e.harness.paths import HOT_RELOAD_ROOT, REPO_ROOT, STATE_ROOT
from e2e.harness.processes import ensure_port_free, localstack_info
from e2e.harness.session import COMPOSE_PROJECT, DEFAULT_PORT, LocalStack, start_localstack
from e2e.harness.watch import SOURCE, Watcher, end_hot_reloading, load_deployment

SESSION_FILE = STATE_ROOT / "session.json"
DEPLOY_DIR = STATE_ROOT / "local"
# Under the folder Docker mode mounts into LocalStack's container (paths.py).
WATCH_DIR = HOT_RELOAD_ROOT / "local"
SAMPLE_USER = {"name": "Ada Lovelace", "email": "ada@example.com"}


class Interrupted(Exception):
    """Ctrl-C: the message says what is still running."""


@dataclass
class Session:
    mode: str
    port: int
    endpoint: str
    session_id: str = ""  # LocalStack's, once it answered

    def save(self) -> None:
        STATE_ROOT.mkdir(exist_ok=True)
        SESSION_FILE.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls) -> Session | None:
        try:
            fields = json.loads(SESSION_FILE.read_text())
            return cls(
                mode=str(fields["mode"]),
                port=int(fields["port"]),
                endpoint=str(fields.get("endpoint") or f"http://127.0.0.1:{fields['port']}"),
                session_id=str(fields.get("session_id", "")),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # Unreadable: treated as stale, cleaned up by mode "host" and "docker" both.
            return cls(mode="unknown", port=DEFAULT_PORT, endpoint="")


def stale_reason(session: Session) -> str | None:
    """Why `session` is no longer usable, or None when its LocalStack is up."""
    if session.mode == Mode.HOST and host.attach() is None:
        return "its LocalStack process is gone"
    if not session.session_id:
        return "its start did not finish"
    info = localstack_info(session.endpoint)
    if info is None:
        return f"nothing answers on port {session.port}"
    if info["session_id"] != session.session_id:
        return f"port {session.port} now answers from another LocalStack"
    return None


def up(log: Any = print) -> None:
    session = Session.load()
    if session is not None:
        reason = stale_reason(session)
        if reason is None:
            redeploy(session, log)
            return
        log(f"Cleaning up a stale `make local` session ({reason}) ...")
        clean_up(session)
    start(log)


def start(log: Any) -> None:
    mode = select_mode(os.environ)
    port = int(os.environ.get("LOCALSTACK_PORT", DEFAULT_PORT))
    endpoint = os.environ.get("LOCALSTACK_ENDPOINT", "").rstrip("/")
    if mode is Mode.DOCKER:
        docker.take_down_stale(COMPOSE_PROJECT, log)
    if mode is not Mode.EXTERNAL:
        ensure_port_free(port)
        endpoint = f"http://127.0.0.1:{port}"
    # Recorded first, so that a start that fails or is interrupted halfway is cleaned up.
    session = Session(mode=mode, port=port, endpoint=endpoint)
    session.save()
    try:
        log(f"Starting LocalStack ({mode} mode) on port {port} ...")
        started = time.monotonic()
        localstack = start_localstack(mode, port, endpoint=endpoint or None)
        info = localstack_info(localstack.endpoint)
        session.session_id = str(info["session_id"]) if info else ""
        session.save()
        log(f"LocalStack ready at {localstack.endpoint} in {time.monotonic() - started:.1f}s")
    except KeyboardInterrupt:
        clean_up(session)
        raise Interrupted("Interrupted: LocalStack was stopped; nothing is left running.") from None
    try:
        deployment = deploy(localstack.endpoint, DEPLOY_DIR)
    except KeyboardInterrupt:
        clean_up(session)
        raise Interrupted(
            "Interrupted during the first deploy: LocalStack was stopped; nothing is left running."
        ) from None
    except HarnessError as error:
        raise HarnessError(
            f"{error}\n{localstack.log_tail()}\n"
            "LocalStack is still up for a look: `make local` deploys again, "
            "`make local-down` stops it."
        ) from error
    show_sample_requests(deployment, log)


def redeploy(session: Session, log: Any) -> None:
    # A first deploy that failed (or was never reached) leaves no outputs: do it in full.
    deployed = (DEPLOY_DIR / "outputs.json").is_file()
    what = "deploying what changed" if deployed else "deploying the stack"
    log(f"LocalStack ({session.mode} mode) is up at {session.endpoint}: {what}")
    try:
        deployment = deploy(session.endpoint, DEPLOY_DIR, log, update=deployed)
    except KeyboardInterrupt:
        raise Interrupted(
            f"Interrupted: LocalStack is still up at {session.endpoint}, the stack possibly "
            "half updated; `make local` deploys again, `make local-down` stops it."
        ) from None
    except HarnessError as error:
        raise HarnessError(
            f"{error}\nThe running LocalStack could not take this change: "
            "`make local-down && make local` deploys it into a fresh one."
        ) from error
    if end_hot_reloading(deployment):
        log("The function was still on `make watch`'s folder (a watch that was killed): no more")
    show_sample_requests(deployment, log)


def localstack_of(session: Session) -> LocalStack | None:
    """What to stop for `session`; None for an external LocalStack (not ours)."""
    if session.mode == Mode.HOST:
        return host.attach()
    if session.mode == Mode.DOCKER:
        return docker.DockerLocalStack(COMPOSE_PROJECT, session.port)
    return None


def clean_up(session: Session) -> None:
    """Stop what `session` started and remove its state, whatever state it is in."""
    if session.mode == "unknown":
        running = host.attach()
        if running is not None:
            running.stop()
    else:
        localstack = localstack_of(session)
        if localstack is not None:
            localstack.stop()
    shutil.rmtree(DEPLOY_DIR, ignore_errors=True)
    shutil.rmtree(WATCH_DIR, ignore_errors=True)
    shutil.rmtree(host.default_state_dir(), ignore_errors=True)
    SESSION_FILE.unlink(missing_ok=True)


def down(log: Any = print) -> None:
    session = Session.load()
    if session is None:
        log("Nothing to stop: `make local` is not up")
        return
    clean_up(session)
    log(f"LocalStack ({session.mode} mode) stopped and its state removed")


# --------------------------------------------------------------------------------------------
# `make watch`


def watch() -> None:
    """`make watch`: until Ctrl-C, against the LocalStack of `make local`."""
    session = Session.load()
    reason = "it is not up" if session is None else stale_reason(session)
    if session is None or reason is not None:
        raise HarnessError(f"`make watch` serves the stack of `make local`, but {reason}")
    deployment = load_deployment(session.endpoint, DEPLOY_DIR)
    watcher = Watcher(deployment, DEPLOY_DIR / "cdk.out", WATCH_DIR)
    # Ctrl-C, and a plain `kill`, end the watch the same clean way (also when started with
    # SIGINT ignored, as `cmd &` in a script does).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        watcher.start()
        print(
            f"Watching {SOURCE.relative_to(REPO_ROOT)}/: a saved change is live at "
            f"{deployment.api_url}/ within about a second. Ctrl-C stops watching."
        )
        watcher.loop(threading.Event())
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip this
        watcher.restore()
    print("\nStopped watching: the function runs the code `make local` deployed again.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# --------------------------------------------------------------------------------------------
# Sample calls


def signed_headers(method: str, url: str, body: str | None = None) -> dict[str, str]:
    """SigV4 headers for API Gateway (`execute-api`) with LocalStack's test credentials."""
    request = AWSRequest(method=method, url=url, data=body)
    if body is not None:
        request.headers["Content-Type"] = "application/json"
    SigV4Auth(Credentials("test", "test"), "execute-api", REGION).add_auth(request)
    return dict(request.headers.items())


def show_sample_requests(deployment: Deployment, log: Any = print) -> None:
    url = deployment.api_url
    body = json.dumps(SAMPLE_USER)
    try:
        created = requests.post(f"{url}/users", json=SAMPLE_USER, timeout=30)
        user_id = _json(created).get("data", {}).get("UserId", "USER_ID")
        read_url = f"{url}/users/{user_id}"
        signed = requests.get(read_url, headers=signed_headers("GET", read_url), timeout=30)
    except requests.RequestException as error:
        raise HarnessError(f"The stack is deployed, but the sample call failed: {error}") from error
    log(f"\nAPI URL: {url}/")
    log(
        f"\n$ curl -s -X POST {url}/users -H 'Content-Type: application/json' -d '{body}'"
        f"\nHTTP {created.status_code}\n{json.dumps(_json(created), indent=2)}"
    )
    # On AWS the API takes SigV4-signed calls (AWS_IAM); LocalStack accepts both.
    log(
        "\nSigned, as AWS requires (AWS_IAM authorization; LocalStack accepts unsigned calls too):"
        f'\n$ curl -s --aws-sigv4 "aws:amz:{REGION}:execute-api" --user test:test {read_url}'
        f"\nHTTP {signed.status_code}"
    )
    log(f"\nTry also:  curl -s {url}/users   |   curl -s {url}/")
    log("Edit lambda/ and run `make local` again (seconds), or keep `make watch` running.")
    log("Stop it with:  make local-down")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        loaded = response.json()
    except ValueError:
        return {"body": response.text[:500]}
    return loaded if isinstance(loaded, dict) else {"body": loaded}
