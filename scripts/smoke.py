"""Smoke test of a deployed users API: is it up, does it speak the contract, and does it refuse?

Run by the deploy pipeline right after `cdk deploy`, against the real URL on AWS:

    python scripts/smoke.py --outputs cdk-outputs.json --stack UsersApi-dev
    python scripts/smoke.py --url https://.../prod/ --read-only

It needs two IAM roles its own credentials may assume (`sts:AssumeRole`), each with one of
the stack's policies attached (the `ReadOnlyPolicyArn` and `ReadWritePolicyArn` outputs):

    SMOKE_READ_ONLY_ROLE_ARN   (or --read-only-role-arn)
    SMOKE_READ_WRITE_ROLE_ARN  (or --read-write-role-arn)

The region comes from the URL (`<id>.execute-api.<region>.amazonaws.com`), else AWS_REGION.
It checks that an unsigned call answers a JSON 403 `FORBIDDEN`, that the read-only role can
read but not write, and that the read-write role's signed calls work. By default the
read-write role also creates, reads and deletes one throwaway user; `--read-only` (prod)
writes nothing: every write it tries targets a user that does not exist, so even a write
that got through would change nothing. Exits non-zero with the first failed expectation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.credentials import Credentials

from e2e.signing import SigV4

TIMEOUT_SECONDS = 10
# A new stage can answer 403/5xx for a few seconds while API Gateway and Lambda settle.
READY_WITHIN_SECONDS = 90
# IAM takes a few seconds to apply a freshly attached policy to an assumed role.
AUTHORIZED_WITHIN_SECONDS = 60
ROLE_VARIABLES = {
    "read_only": "SMOKE_READ_ONLY_ROLE_ARN",
    "read_write": "SMOKE_READ_WRITE_ROLE_ARN",
}
REGION_IN_URL = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class SmokeFailure(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


@dataclass(frozen=True)
class Caller:
    """Who sends a request: nobody (unsigned) or a role's credentials, signed with SigV4."""

    name: str
    auth: SigV4 | None = None

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, url, timeout=TIMEOUT_SECONDS, auth=self.auth, **kwargs)
        print(f"{self.name}: {method} {url} -> {response.status_code}")
        return response


ANONYMOUS = Caller("unsigned")


def body(response: requests.Response) -> dict[str, Any]:
    try:
        parsed = response.json()
    except ValueError as error:
        raise SmokeFailure(f"{response.url} answered a non-JSON body: {response.text!r}") from error
    expect(isinstance(parsed, dict), f"{response.url} answered {parsed!r}, not a JSON object")
    return dict(parsed)


def expect_forbidden(response: requests.Response, what: str) -> None:
    expect(response.status_code == 403, f"{what} must answer 403, got {response.status_code}")
    refused = body(response)
    expect(refused.get("code") == "FORBIDDEN", f"{what} must be FORBIDDEN, got {refused}")
    expect(
        refused.get("requestId") == response.headers.get("X-Request-Id"),
        f"{what} must carry its request id in the body and X-Request-Id",
    )


def wait_until_healthy(base: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while True:
        try:
            response = ANONYMOUS.call("GET", base)
            if response.status_code == 200:
                data = body(response)["data"]
                expect(data["status"] == "healthy", f"health answered {data}")
                return
        except requests.RequestException as error:
            print(f"  not reachable yet: {error}")
        if time.monotonic() > deadline:
            raise SmokeFailure(f"GET {base} was not 200 within {READY_WITHIN_SECONDS}s")
        time.sleep(5)


def wait_until_authorized(base: str, caller: Caller, timeout: float) -> None:
    """A just-assumed role may be refused for a few seconds while IAM catches up."""
    deadline = time.monotonic() + timeout
    while True:
        response = caller.call("GET", f"{base}users", params={"limit": "1"})
        if response.status_code == 200 or time.monotonic() > deadline:
            expect(
                response.status_code == 200, f"{caller.name}: GET /users answered {response.text}"
            )
            return
        time.sleep(5)


def check_refusals(base: str, read_only: Caller) -> None:
    missing = f"{base}users/{uuid.uuid4()}"
    expect_forbidden(ANONYMOUS.call("GET", f"{base}users"), "an unsigned GET /users")
    expect_forbidden(ANONYMOUS.call("DELETE", missing), "an unsigned DELETE")
    # The read-only role reads, and may not write. Each write names a user that does not
    # exist, or is invalid: were it let through, it would still change nothing.
    listing = read_only.call("GET", f"{base}users", params={"limit": "1"})
    expect(listing.status_code == 200, f"the read-only role must read, got {listing.text}")
    expect_forbidden(read_only.call("DELETE", missing), "a DELETE by the read-only role")
    expect_forbidden(
        read_only.call("POST", f"{base}users", json={}), "a POST by the read-only role"
    )


def check_read_paths(base: str, caller: Caller) -> None:
    missing = caller.call("GET", f"{base}users/{uuid.uuid4()}")
    expect(missing.status_code == 404, "an unknown user must answer 404")
    expect(body(missing)["code"] == "USER_NOT_FOUND", "an unknown user must be USER_NOT_FOUND")

    listing = caller.call("GET", f"{base}users", params={"limit": "1"})
    expect(listing.status_code == 200, "GET /users must answer 200")
    expect(body(listing)["success"] is True, "GET /users must succeed")

    preflight = ANONYMOUS.call(
        "OPTIONS",
        f"{base}users",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
    )
    expect(preflight.status_code == 204, "CORS preflight must answer 204")


def check_harmless_write(base: str, caller: Caller) -> None:
    """The read-write role may call a write operation (prod: on a user that does not exist)."""
    deleted = caller.call("DELETE", f"{base}users/{uuid.uuid4()}")
    expect(deleted.status_code == 404, f"the read-write role's DELETE answered {deleted.text}")
    expect(body(deleted)["code"] == "USER_NOT_FOUND", "the read-write role must reach the API")


def check_write_cycle(base: str, caller: Caller) -> None:
    user = {"name": "Smoke Test", "email": f"smoke-{uuid.uuid4().hex[:12]}@example.com"}
    created = caller.call("POST", f"{base}users", json=user)
    expect(created.status_code == 201, f"POST /users answered {created.text}")
    user_id = body(created)["data"]["UserId"]
    try:
        fetched = caller.call("GET", f"{base}users/{user_id}")
        expect(fetched.status_code == 200, "the created user must be readable")
        expect(body(fetched)["data"]["email"] == user["email"], "the stored user must match")
    finally:
        deleted = caller.call("DELETE", f"{base}users/{user_id}")
        expect(deleted.status_code == 200, f"DELETE answered {deleted.text}")


def run(
    base: str,
    region: str,
    *,
    read_only: Credentials,
    read_write: Credentials,
    write: bool,
    authorized_within: float = AUTHORIZED_WITHIN_SECONDS,
) -> None:
    reader = Caller("read-only role", SigV4(read_only, region))
    writer = Caller("read-write role", SigV4(read_write, region))
    wait_until_healthy(base)
    wait_until_authorized(base, reader, authorized_within)
    wait_until_authorized(base, writer, authorized_within)
    check_refusals(base, reader)
    check_read_paths(base, writer)
    check_harmless_write(base, writer)
    if write:
        check_write_cycle(base, writer)


def assume(role_arn: str) -> Credentials:
    import boto3

    answer = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="users-api-smoke")
    credentials = answer["Credentials"]
    return Credentials(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )


def api_url(arguments: argparse.Namespace) -> str:
    if arguments.url:
        url = str(arguments.url)
    else:
        outputs = json.loads(Path(arguments.outputs).read_text())
        url = str(outputs[arguments.stack]["ApiUrl"])
    return url if url.endswith("/") else f"{url}/"


def region_of(url: str, environ: Mapping[str, str]) -> str | None:
    match = REGION_IN_URL.search(url)
    return (
        match.group(1) if match else environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    )


def main(
    argv: list[str],
    environ: Mapping[str, str] = os.environ,
    assume_role: Callable[[str], Credentials] = assume,
) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="the API's base URL (the stack's ApiUrl output)")
    parser.add_argument("--outputs", help="cdk deploy --outputs-file JSON to read ApiUrl from")
    parser.add_argument("--stack", help="stack name in the outputs file, e.g. UsersApi-dev")
    parser.add_argument("--read-only", action="store_true", help="write nothing (prod)")
    parser.add_argument("--read-only-role-arn", help=f"default: ${ROLE_VARIABLES['read_only']}")
    parser.add_argument("--read-write-role-arn", help=f"default: ${ROLE_VARIABLES['read_write']}")
    arguments = parser.parse_args(argv)
    if not arguments.url and not (arguments.outputs and arguments.stack):
        parser.error("give --url, or --outputs with --stack")
    roles = {
        kind: getattr(arguments, f"{kind}_role_arn") or environ.get(variable, "")
        for kind, variable in ROLE_VARIABLES.items()
    }
    if not all(roles.values()):
        parser.error(
            f"give --read-only-role-arn and --read-write-role-arn (or set "
            f"{' and '.join(ROLE_VARIABLES.values())}): roles with the stack's "
            "ReadOnlyPolicyArn and ReadWritePolicyArn attached"
        )

    base = api_url(arguments)
    region = region_of(base, environ)
    if not region:
        parser.error(f"cannot tell the region from {base}: set AWS_REGION")
    try:
        run(
            base,
            region,
            read_only=assume_role(roles["read_only"]),
            read_write=assume_role(roles["read_write"]),
            write=not arguments.read_only,
        )
    except (SmokeFailure, KeyError) as failure:
        print(f"SMOKE FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"smoke passed against {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
