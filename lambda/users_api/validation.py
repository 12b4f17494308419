"""Request parsing and declarative validation rules.

Every rule reports *all* problems at once, as the contract's ``details`` list, and never lets a
non-string value (number, boolean, float, object) reach DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from users_api.errors import (
    InvalidBody,
    InvalidJson,
    InvalidQuery,
    PayloadTooLarge,
    ValidationFailed,
)

MAX_BODY_BYTES = 16 * 1024

SERVER_FIELDS = ("UserId", "createdAt", "updatedAt", "version")

# C0 and C1 controls, and the bidirectional overrides and isolates that can disguise text.
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_CONTROL_CHARS = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI_CONTROLS}]")
# Newlines and tabs are fine in an address.
_ADDRESS_FORBIDDEN = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_BIDI_CONTROLS}]")
_EMAIL = re.compile(
    r"^(?=[^@]{1,64}@)"  # local part at most 64 characters
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})\Z"  # a TLD, or an IDN one (xn--...)
)
_PHONE = re.compile(r"^(?=[^0-9]*[0-9])[0-9 +\-()]{5,20}\Z")  # at least one digit
_USER_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,128}\Z")
_DIGITS = re.compile(r"^[0-9]{1,9}\Z")
# If-Match compares strongly (RFC 9110): a weak tag never matches, so it is not parsed.
_ETAG = re.compile(r'^"(0|[1-9][0-9]{0,17})"\Z')


@dataclass(frozen=True)
class StringField:
    """A declarative rule for one string field of the user."""

    name: str
    required_on_create: bool
    max_length: int
    min_length: int = 0
    trim: bool = False
    pattern: re.Pattern[str] | None = None
    pattern_message: str = ""
    forbidden: re.Pattern[str] | None = _CONTROL_CHARS

    def check(self, value: Any) -> tuple[str | None, str | None]:
        """Return (clean value, None) or (None, error message)."""
        if not isinstance(value, str):
            return None, f"{self.name} must be a string"
        clean = value.strip() if self.trim else value
        length = len(clean)
        if length < self.min_length or length > self.max_length:
            suffix = " after trimming" if self.trim else ""
            if self.min_length:
                limits = f"{self.min_length}-{self.max_length}"
                return None, f"{self.name} must be {limits} characters long{suffix}"
            return None, f"{self.name} must be at most {self.max_length} characters long"
        if self.forbidden is not None and self.forbidden.search(clean):
            return None, f"{self.name} must not contain control characters"
        if self.pattern is not None and not self.pattern.match(clean):
            return None, self.pattern_message
        return clean, None


USER_FIELDS: tuple[StringField, ...] = (
    StringField("name", required_on_create=True, min_length=1, max_length=100, trim=True),
    StringField(
        "email",
        required_on_create=True,
        max_length=254,
        pattern=_EMAIL,
        pattern_message="email must be a valid email address (local@domain.tld)",
    ),
    StringField(
        "phone",
        required_on_create=False,
        min_length=5,
        max_length=20,
        pattern=_PHONE,
        pattern_message=(
            "phone may only contain digits, spaces and + - ( ), with at least one digit"
        ),
    ),
    StringField("address", required_on_create=False, max_length=500, forbidden=_ADDRESS_FORBIDDEN),
)
MUTABLE_FIELDS = tuple(rule.name for rule in USER_FIELDS)
_RULES = {rule.name: rule for rule in USER_FIELDS}


@dataclass(frozen=True)
class UserChanges:
    """Validated fields: values to set, and optional fields to remove (sent as null)."""

    values: dict[str, str]
    removed: frozenset[str] = frozenset()


def _fail(details: list[dict[str, str]]) -> NoReturn:
    summary = "; ".join(detail["message"] for detail in details)
    raise ValidationFailed(f"Validation failed: {summary}", details=details)


def _unknown_field_errors(body: Mapping[str, Any]) -> list[dict[str, str]]:
    errors = []
    for field in body:
        if field in SERVER_FIELDS:
            errors.append(
                {"field": field, "message": f"{field} is set by the server and cannot be provided"}
            )
        elif field not in _RULES:
            errors.append({"field": str(field), "message": f"{field} is not an allowed field"})
    return errors


def _validate(body: Mapping[str, Any], *, creating: bool) -> UserChanges:
    errors = _unknown_field_errors(body)
    values: dict[str, str] = {}
    removed: set[str] = set()
    for rule in USER_FIELDS:
        if rule.name not in body:
            if creating and rule.required_on_create:
                errors.append({"field": rule.name, "message": f"{rule.name} is required"})
            continue
        raw = body[rule.name]
        if raw is None and not rule.required_on_create:
            removed.add(rule.name)  # an optional field sent as null means "no value"
            continue
        clean, message = rule.check(raw)
        if message is not None:
            errors.append({"field": rule.name, "message": message})
        elif clean is not None:
            values[rule.name] = clean
    if not creating and not errors and not values and not removed:
        errors.append(
            {
                "field": "body",
                "message": f"at least one of {', '.join(MUTABLE_FIELDS)} must be provided",
            }
        )
    if errors:
        _fail(errors)
    return UserChanges(values=values, removed=frozenset(removed))


def validate_new_user(body: Mapping[str, Any]) -> dict[str, str]:
    """Fields of ``POST /users``: name and email required, phone and address optional."""
    return _validate(body, creating=True).values


def validate_user_update(body: Mapping[str, Any]) -> UserChanges:
    """Fields of ``PUT /users/{id}``: a partial update with at least one mutable field."""
    return _validate(body, creating=False)


# --- body ------------------------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(raw_body: str | None, is_base64_encoded: bool = False) -> dict[str, Any]:
    """Decode, size-check (16 KiB of UTF-8 bytes) and parse a JSON object body."""
    if raw_body is None:
        raw_body = ""
    if is_base64_encoded:
        try:
            data = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidJson("Request body is not valid base64-encoded data") from None
    else:
        data = raw_body.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"Request body is {len(data)} bytes; the limit is {MAX_BODY_BYTES} bytes (16 KiB)"
        )
    try:
        text = data.decode("utf-8")
        parsed = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson("Request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidBody(f"Request body must be a JSON object, not {_json_type(parsed)}")
    try:
        # JSON escapes can spell lone surrogates ("\ud800"), text nothing downstream can store.
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJson("Request body holds text that is not valid Unicode") from None
    return parsed


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


# --- query string, path and headers ----------------------------------------------------------


def check_limit_syntax(raw: str) -> None:
    """What can be checked without the configured maximum: a positive integer."""
    if not _DIGITS.match(raw) or int(raw) < 1:
        message = "limit must be a positive integer"
        raise InvalidQuery(message, details=[{"field": "limit", "message": message}])


def parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    if raw is None:
        return max(1, min(default, maximum))
    value = int(raw) if _DIGITS.match(raw) else 0
    if not 1 <= value <= maximum:
        message = f"limit must be an integer between 1 and {maximum}"
        raise InvalidQuery(message, details=[{"field": "limit", "message": message}])
    return value


def is_user_id(value: str) -> bool:
    """User ids are server-generated UUIDs; nothing else can name a user."""
    return bool(_USER_ID.match(value))


def validate_idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not _IDEMPOTENCY_KEY.match(raw):
        message = "Idempotency-Key must be 1-128 printable ASCII characters"
        raise ValidationFailed(message, details=[{"field": "Idempotency-Key", "message": message}])
    return raw


@dataclass(frozen=True)
class IfMatch:
    """A parsed ``If-Match`` header: ``*`` (any existing version) or a set of versions."""

    any_version: bool
    versions: frozenset[int]


MAX_IF_MATCH_TAGS = 20


def parse_if_match(raw: str | None) -> IfMatch | None:
    """Parse ``If-Match``. Tags that are not ETags this API issued can never match (-> 412)."""
    if raw is None:
        return None
    tags = [tag.strip() for tag in raw.split(",") if tag.strip()]
    if "*" in tags:
        return IfMatch(any_version=True, versions=frozenset())
    if len(tags) > MAX_IF_MATCH_TAGS:
        message = f"If-Match may list at most {MAX_IF_MATCH_TAGS} ETags"
        raise ValidationFailed(message, details=[{"field": "If-Match", "message": message}])
    versions = set()
    for tag in tags:
        match = _ETAG.match(tag)
        if match:
            versions.add(int(match.group(1)))
    return IfMatch(any_version=False, versions=frozenset(versions))


def etag(version: int) -> str:
    return f'"{version}"'
