"""Smoke test of a deployed users API: is it up and does it speak the contract?

Run by the deploy pipeline right after `cdk deploy`, against the real URL:

    python scripts/smoke.py --outputs cdk-outputs.json --stack UsersApi-dev
    python scripts/smoke.py --url https://.../prod/ --read-only

By default it also creates, reads and deletes one throwaway user; `--read-only` (prod) writes
nothing. Exits non-zero with the first failed expectation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

TIMEOUT_SECONDS = 10
# A new stage can answer 403/5xx for a few seconds while API Gateway and Lambda settle.
READY_WITHIN_SECONDS = 90


class SmokeFailure(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    response = requests.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
    print(f"{method} {url} -> {response.status_code}")
    return response


def body(response: requests.Response) -> dict[str, Any]:
    try:
        parsed = response.json()
    except ValueError as error:
        raise SmokeFailure(f"{response.url} answered a non-JSON body: {response.text!r}") from error
    expect(isinstance(parsed, dict), f"{response.url} answered {parsed!r}, not a JSON object")
    return dict(parsed)


def wait_until_healthy(base: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while True:
        try:
            response = call("GET", base)
            if response.status_code == 200:
                data = body(response)["data"]
                expect(data["status"] == "healthy", f"health answered {data}")
                return
        except requests.RequestException as error:
            print(f"  not reachable yet: {error}")
        if time.monotonic() > deadline:
            raise SmokeFailure(f"GET {base} was not 200 within {READY_WITHIN_SECONDS}s")
        time.sleep(5)


def check_read_paths(base: str) -> None:
    missing = call("GET", f"{base}users/{uuid.uuid4()}")
    expect(missing.status_code == 404, "an unknown user must answer 404")
    expect(body(missing)["code"] == "USER_NOT_FOUND", "an unknown user must be USER_NOT_FOUND")

    listing = call("GET", f"{base}users", params={"limit": "1"})
    expect(listing.status_code == 200, "GET /users must answer 200")
    expect(body(listing)["success"] is True, "GET /users must succeed")

    preflight = call(
        "OPTIONS",
        f"{base}users",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
    )
    expect(preflight.status_code == 204, "CORS preflight must answer 204")


def check_write_cycle(base: str) -> None:
    user = {"name": "Smoke Test", "email": f"smoke-{uuid.uuid4().hex[:12]}@example.com"}
    created = call("POST", f"{base}users", json=user)
    expect(created.status_code == 201, f"POST /users answered {created.text}")
    user_id = body(created)["data"]["UserId"]
    try:
        fetched = call("GET", f"{base}users/{user_id}")
        expect(fetched.status_code == 200, "the created user must be readable")
        expect(body(fetched)["data"]["email"] == user["email"], "the stored user must match")
    finally:
        deleted = call("DELETE", f"{base}users/{user_id}")
        expect(deleted.status_code == 200, f"DELETE answered {deleted.text}")


def api_url(arguments: argparse.Namespace) -> str:
    if arguments.url:
        url = str(arguments.url)
    else:
        outputs = json.loads(Path(arguments.outputs).read_text())
        url = str(outputs[arguments.stack]["ApiUrl"])
    return url if url.endswith("/") else f"{url}/"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the API's base URL (the stack's ApiUrl output)")
    parser.add_argument("--outputs", help="cdk deploy --outputs-file JSON to read ApiUrl from")
    parser.add_argument("--stack", help="stack name in the outputs file, e.g. UsersApi-dev")
    parser.add_argument("--read-only", action="store_true", help="write nothing (prod)")
    arguments = parser.parse_args(argv)
    if not arguments.url and not (arguments.outputs and arguments.stack):
        parser.error("give --url, or --outputs with --stack")

    base = api_url(arguments)
    try:
        wait_until_healthy(base)
        check_read_paths(base)
        if not arguments.read_only:
            check_write_cycle(base)
    except (SmokeFailure, KeyError) as failure:
        print(f"SMOKE FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"smoke passed against {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
