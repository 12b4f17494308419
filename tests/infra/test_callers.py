"""What callers use: SigV4 signing, the sample calls, and the smoke test's refusal checks.

The smoke test runs against a small stand-in for API Gateway on the loopback interface that
verifies SigV4 signatures with botocore and refuses like AWS_IAM does; variants of it that
serve unsigned calls (as LocalStack does) or let the read-only role write must fail the smoke.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e.signing import SERVICE, SigV4, sample_calls


def _load_smoke() -> Any:
    """scripts/ is not a package: load the smoke test the way `python scripts/smoke.py` does."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "smoke.py"
    spec = importlib.util.spec_from_file_location("smoke", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["smoke"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


smoke = _load_smoke()

REGION = "eu-west-1"
READER = Credentials("AKIDREADER", "reader-secret", "reader-token")
WRITER = Credentials("AKIDWRITER", "writer-secret", "writer-token")
ROLES = {
    "arn:aws:iam::123456789012:role/reader": READER,
    "arn:aws:iam::123456789012:role/writer": WRITER,
}
CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,]+)")
SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})")


def signature_is_valid(method: str, url: str, headers: dict[str, str], body: bytes) -> str | None:
    """The access key id of a request whose SigV4 signature verifies, else None."""
    authorization = headers.get("authorization", "")
    credential, signed, signature = (
        CREDENTIAL.search(authorization),
        SIGNED_HEADERS.search(authorization),
        SIGNATURE.search(authorization),
    )
    if not (credential and signed and signature):
        return None
    key_id, region, service = credential.groups()
    secrets = {c.access_key: c for c in (READER, WRITER)}
    if key_id not in secrets or (region, service) != (REGION, SERVICE):
        return None
    names = signed.group(1).split(";")
    request = AWSRequest(
        method=method, url=url, data=body, headers={n: headers.get(n, "") for n in names}
    )
    request.context["timestamp"] = headers.get("x-amz-date", "")
    auth = SigV4Auth(secrets[key_id], SERVICE, REGION)
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    tokens_match = headers.get("x-amz-security-token") == secrets[key_id].token
    return key_id if expected == signature.group(1) and tokens_match else None


@dataclass
class FakeGateway:
    """API Gateway with AWS_IAM on every users route, backed by a dict of users."""

    enforce: bool = True
    reader_may_write: bool = False
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    def answer(
        self, method: str, path: str, key_id: str | None, body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        if method == "OPTIONS":
            return 204, None
        if path == "/":
            return 200, {"success": True, "data": {"status": "healthy"}}
        if self.enforce:
            writes = method != "GET"
            if key_id is None or (
                writes and key_id == READER.access_key and not self.reader_may_write
            ):
                return 403, {"success": False, "code": "FORBIDDEN", "error": "refused"}
        if path == "/users" and method == "GET":
            return 200, {"success": True, "data": {"users": list(self.users.values())}}
        if path == "/users" and method == "POST":
            fields = json.loads(body or b"{}")
            if not {"name", "email"} <= set(fields):
                return 400, {"success": False, "code": "VALIDATION_ERROR", "error": "bad"}
            user = {"UserId": str(uuid.uuid4()), **fields}
            self.users[user["UserId"]] = user
            return 201, {"success": True, "data": user}
        user_id = path.removeprefix("/users/")
        if user_id not in self.users:
            return 404, {"success": False, "code": "USER_NOT_FOUND", "error": "missing"}
        if method == "DELETE":
            del self.users[user_id]
        return 200, {"success": True, "data": self.users.get(user_id, {})}


@pytest.fixture
def gateway() -> Iterator[tuple[FakeGateway, str]]:
    fake = FakeGateway()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            url = f"http://{self.headers['Host']}{self.path}"
            key_id = signature_is_valid(self.command, url, headers, body)
            status: int
            payload: dict[str, Any] | None
            if "authorization" in headers and key_id is None:
                status, payload = 403, {"success": False, "code": "FORBIDDEN", "error": "bad"}
            else:
                status, payload = fake.answer(self.command, self.path.split("?")[0], key_id, body)
            request_id = str(uuid.uuid4())
            self.send_response(status)
            self.send_header("X-Request-Id", request_id)
            data = b"" if payload is None else json.dumps({**payload, "requestId": request_id})
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data if isinstance(data, bytes) else data.encode())

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def run_smoke(url: str, *extra: str) -> int:
    roles = list(ROLES)
    argv = ["--url", url, "--read-only-role-arn", roles[0], "--read-write-role-arn", roles[1]]
    return int(
        smoke.main([*argv, *extra], environ={"AWS_REGION": REGION}, assume_role=ROLES.__getitem__)
    )


# --- SigV4 ------------------------------------------------------------------------------------


def test_a_signed_request_verifies_and_a_tampered_one_does_not() -> None:
    # Given a signed POST with a query string and a JSON body
    prepared = requests.Request(
        "POST", "https://api.example/dev/users?limit=2", json={"name": "Ada"}
    ).prepare()
    signed = SigV4(WRITER, REGION)(prepared)
    headers = {name.lower(): value for name, value in signed.headers.items()}
    headers["host"] = "api.example"
    body = signed.body if isinstance(signed.body, bytes) else str(signed.body).encode()
    # Then the signature verifies, and covers the body, the query and the method
    assert signature_is_valid("POST", str(signed.url), headers, body) == WRITER.access_key
    assert signature_is_valid("POST", str(signed.url), headers, b'{"name": "Eve"}') is None
    assert signature_is_valid("POST", "https://api.example/dev/users", headers, body) is None
    assert signature_is_valid("PUT", str(signed.url), headers, body) is None
    # And headers a proxy may rewrite are left out of it
    assert "connection" not in headers["authorization"].lower().split("signature=")[0]


def test_sample_calls_sign_with_curl_and_python() -> None:
    url = "http://127.0.0.1:4566/_aws/execute-api/abc123/dev/"
    text = sample_calls(url, "us-east-1", localstack=True)
    curl, python = text.split("\n\n", 1)
    assert curl == (
        "curl -s --aws-sigv4 'aws:amz:us-east-1:execute-api' --user \"test:test\" "
        "http://127.0.0.1:4566/_aws/execute-api/abc123/dev/users"
    )
    compile(python, "sample", "exec")
    assert 'SigV4Auth(Credentials("test", "test"), "execute-api", "us-east-1")' in python
    on_aws = sample_calls("https://abc.execute-api.eu-west-1.amazonaws.com/prod/", "eu-west-1")
    assert "x-amz-security-token: $AWS_SESSION_TOKEN" in on_aws
    assert "boto3.Session().get_credentials()" in on_aws


# --- the smoke test ---------------------------------------------------------------------------


def test_smoke_passes_when_unsigned_calls_and_the_read_only_role_are_refused(
    gateway: tuple[FakeGateway, str],
) -> None:
    fake, url = gateway
    assert run_smoke(url) == 0
    # The write cycle cleaned up after itself
    assert fake.users == {}


def test_smoke_read_only_writes_nothing(gateway: tuple[FakeGateway, str]) -> None:
    fake, url = gateway
    fake.users["existing"] = {"UserId": "existing", "name": "Ada", "email": "a@example.com"}
    assert run_smoke(url, "--read-only") == 0
    assert list(fake.users) == ["existing"]


def test_smoke_fails_when_unsigned_calls_are_served(
    gateway: tuple[FakeGateway, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an API that serves unsigned calls (LocalStack does)
    fake, url = gateway
    fake.enforce = False
    # Then the smoke test fails on the first refusal it expects
    assert run_smoke(url) == 1
    assert "an unsigned GET /users must answer 403, got 200" in capsys.readouterr().err


def test_smoke_fails_when_the_read_only_role_may_write(
    gateway: tuple[FakeGateway, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, url = gateway
    fake.reader_may_write = True
    assert run_smoke(url, "--read-only") == 1
    assert "a DELETE by the read-only role must answer 403, got 404" in capsys.readouterr().err


def test_smoke_needs_both_roles(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        smoke.main(["--url", "https://x.example/dev/"], environ={"AWS_REGION": REGION})
    assert exit_.value.code == 2
    assert "SMOKE_READ_ONLY_ROLE_ARN and SMOKE_READ_WRITE_ROLE_ARN" in capsys.readouterr().err


def test_smoke_reads_the_region_from_the_url() -> None:
    url = "https://abc123.execute-api.ap-southeast-2.amazonaws.com/prod/"
    assert smoke.region_of(url, {"AWS_REGION": "us-east-1"}) == "ap-southeast-2"
    assert smoke.region_of("http://127.0.0.1:4566/x/", {"AWS_REGION": "us-east-1"}) == "us-east-1"
