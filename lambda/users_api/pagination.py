"""The opaque ``nextToken``: base64url of a versioned JSON document holding the scan position.

Only tokens of exactly the shape this API issues are accepted: a key that is not a user id (the
only items of the users table) is rejected as ``INVALID_QUERY``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from users_api.errors import InvalidQuery

TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 256
_TOKEN_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+\Z")
_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def encode_token(last_evaluated_key: dict[str, Any]) -> str:
    document = {"v": TOKEN_VERSION, "k": str(last_evaluated_key["UserId"])}
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, str]:
    """Return the ``ExclusiveStartKey`` for a token, or raise ``InvalidQuery``."""
    invalid = InvalidQuery(
        "nextToken is not a token issued by this API",
        details=[{"field": "nextToken", "message": "nextToken is not a token issued by this API"}],
    )
    if not token or len(token) > MAX_TOKEN_LENGTH or not _TOKEN_ALPHABET.match(token):
        raise invalid
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if (
        not isinstance(document, dict)
        or set(document) != {"v", "k"}
        or document["v"] != TOKEN_VERSION
        or type(document["v"]) is not int
        or not isinstance(document["k"], str)
        or not _KEY.match(document["k"])
    ):
        raise invalid
    return {"UserId": document["k"]}
