"""SigV4 for the API's callers: a `requests` auth that signs with botocore, and sample calls.

The e2e client and scripts/smoke.py sign every request with `SigV4`; `sample_calls` renders
the signed calls a user can paste (curl's `--aws-sigv4` and a few lines of Python).
"""

from __future__ import annotations

import shlex
from typing import Final

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE: Final = "execute-api"
# LocalStack accepts any credentials; these are the ones its documentation uses.
LOCALSTACK_CREDENTIALS: Final = Credentials("test", "test")
# Headers a proxy or the HTTP stack may rewrite on the way: signing them breaks the signature.
UNSIGNED_HEADERS: Final = frozenset(
    {"connection", "accept-encoding", "user-agent", "content-length", "accept"}
)


class SigV4(requests.auth.AuthBase):
    """Signs a prepared request for API Gateway (`execute-api`) in `region`."""

    def __init__(self, credentials: Credentials, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        signed = AWSRequest(
            method=request.method,
            url=request.url,
            data=request.body or b"",
            headers={
                name: value
                for name, value in request.headers.items()
                if name.lower() not in UNSIGNED_HEADERS
            },
        )
        SigV4Auth(self.credentials, SERVICE, self.region).add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        return request


def sample_calls(base_url: str, region: str, *, localstack: bool = False) -> str:
    """A signed `GET /users` as curl and as Python, for a user to paste.

    On AWS both read the caller's credentials from the usual variables; on LocalStack they
    use its test credentials.
    """
    url = f"{base_url.rstrip('/')}/users"
    if localstack:
        user = "test:test"
        token_header = ""
        credentials = 'Credentials("test", "test")'
    else:
        user = "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
        token_header = ' -H "x-amz-security-token: $AWS_SESSION_TOKEN"'
        credentials = "boto3.Session().get_credentials()"
    curl = (
        f"curl -s --aws-sigv4 'aws:amz:{region}:{SERVICE}' --user \"{user}\"{token_header} "
        f"{shlex.quote(url)}"
    )
    imports = ["import requests", "from botocore.auth import SigV4Auth"]
    imports.append(
        "from botocore.awsrequest import AWSRequest"
        + ("\nfrom botocore.credentials import Credentials" if localstack else "\nimport boto3")
    )
    python = "\n".join(
        [
            *imports,
            "",
            f'request = AWSRequest(method="GET", url="{url}")',
            f'SigV4Auth({credentials}, "{SERVICE}", "{region}").add_auth(request)',
            "print(requests.get(request.url, headers=dict(request.headers)).json())",
        ]
    )
    return f"{curl}\n\n{python}"
