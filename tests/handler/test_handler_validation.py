"""Request validation: the declarative rules on their own, and their effect through the API."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.handler.conftest import Invoke, api_event, create_user, table_items
from users_api.errors import (
    InvalidBody,
    InvalidJson,
    InvalidQuery,
    PayloadTooLarge,
    ValidationFailed,
)
from users_api.pagination import decode_token, encode_token
from users_api.validation import (
    MAX_BODY_BYTES,
    parse_if_match,
    parse_json_object,
    parse_limit,
    validate_new_user,
    validate_user_update,
)

VALID = {"name": "Ada Lovelace", "email": "ada@example.com"}


def fields_in_error(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [detail["field"] for detail in exc.value.details or []]


# --- field rules -----------------------------------------------------------------------------


def test_a_valid_user_passes_with_unicode_letters_and_optional_fields() -> None:
    fields = validate_new_user(
        {
            "name": "Zoë Ωmega-Łukasz",
            "email": "z.o+tag@mail.example.org",
            "phone": "(020) 7946-0000",
        }
    )

    assert fields["name"] == "Zoë Ωmega-Łukasz"


def test_all_field_errors_are_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_new_user({"email": "not-an-email", "phone": "abc", "address": "x" * 501})

    assert sorted(fields_in_error(exc)) == ["address", "email", "name", "phone"]
    assert "email" in exc.value.message


@pytest.mark.parametrize(
    "body",
    [
        {**VALID, "name": 42},
        {**VALID, "name": 4.2},
        {**VALID, "name": True},
        {**VALID, "email": ["a@b.co"]},
        {**VALID, "phone": 5550100},
        {**VALID, "address": {"street": "x"}},
        {**VALID, "name": None},
    ],
)
def test_non_strings_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        validate_new_user(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "   "),
        ("name", "x" * 101),
        ("email", "a@b"),
        ("email", "a b@example.com"),
        ("email", "x" * 250 + "@example.com"),
        ("phone", "1234"),
        ("phone", "1" * 21),
        ("phone", "555-CALL-NOW"),
        ("name", "bad\x00name"),
        ("name", "C1\x85control"),
        ("name", "Ada \u202ecilbup"),  # a right-to-left override disguises the text
        ("name", "Ada \u2066isolate"),
        ("address", "12 Street\x9b"),
        ("address", "12 \u202aStreet"),
        ("phone", "+ ( ) -"),  # no digit at all
    ],
)
def test_malformed_values_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_new_user({**VALID, field: value})

    assert fields_in_error(exc) == [field]


def test_an_internationalised_top_level_domain_is_a_valid_email() -> None:
    assert validate_new_user({**VALID, "email": "ivan@example.xn--p1ai"})["email"] == (
        "ivan@example.xn--p1ai"
    )


def test_an_address_keeps_its_newlines_and_tabs() -> None:
    assert validate_new_user({**VALID, "address": "1 Road\n\tTown"})["address"] == "1 Road\n\tTown"


@pytest.mark.parametrize("field", ["UserId", "createdAt", "updatedAt", "version", "role"])
def test_server_and_unknown_fields_are_rejected(field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_new_user({**VALID, field: "x"})

    assert fields_in_error(exc) == [field]


def test_update_needs_at_least_one_mutable_field() -> None:
    with pytest.raises(ValidationFailed):
        validate_user_update({})

    changes = validate_user_update({"address": None, "name": " N "})
    assert changes.values == {"name": "N"}
    assert changes.removed == frozenset({"address"})


# --- body parsing ----------------------------------------------------------------------------


def test_body_parsing_distinguishes_invalid_json_and_non_objects() -> None:
    with pytest.raises(InvalidJson):
        parse_json_object("{nope")
    with pytest.raises(InvalidJson):
        parse_json_object('{"a": NaN}')
    with pytest.raises(InvalidJson):
        parse_json_object(None)
    with pytest.raises(InvalidBody):
        parse_json_object("[1, 2]")
    assert parse_json_object(base64.b64encode(b'{"a": "b"}').decode(), True) == {"a": "b"}


def test_body_size_is_measured_in_utf8_bytes_after_base64_decoding() -> None:
    # Given bodies just under and just over 16 KiB, in multi-byte characters
    fits = json.dumps({"address": "é" * ((MAX_BODY_BYTES - 20) // 2)}, ensure_ascii=False)
    too_big = json.dumps({"address": "é" * (MAX_BODY_BYTES // 2)}, ensure_ascii=False)

    # Then (8 KiB characters but 16 KiB bytes is too big)
    assert len(fits) < len(too_big) < MAX_BODY_BYTES < len(too_big.encode())
    assert len(fits.encode()) <= MAX_BODY_BYTES
    parse_json_object(fits)
    with pytest.raises(PayloadTooLarge):
        parse_json_object(too_big)
    with pytest.raises(PayloadTooLarge):
        parse_json_object(base64.b64encode(too_big.encode()).decode(), True)


# --- query and headers -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["0", "-1", "101", "abc", "1.5", "", " 5", "+5", "1e2", "5\n"])
def test_limit_must_be_an_integer_in_range(raw: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_limit(raw, default=20, maximum=100)


def test_limit_defaults_and_bounds() -> None:
    assert parse_limit(None, default=20, maximum=100) == 20
    assert parse_limit(None, default=20, maximum=10) == 10
    assert parse_limit("100", default=20, maximum=100) == 100


def test_next_token_round_trips_and_rejects_anything_else() -> None:
    key = {"UserId": "3f0c0000-0000-4000-8000-000000000000"}
    assert decode_token(encode_token(key)) == key

    forged_shape = base64.urlsafe_b64encode(b'{"k":"x","v":1}').decode().rstrip("=")
    for token in ["", "!!", "e30", forged_shape, "a" * 300, json.dumps(key)]:
        with pytest.raises(InvalidQuery):
            decode_token(token)


def test_if_match_parsing() -> None:
    assert parse_if_match(None) is None
    assert parse_if_match('"3"') is not None
    assert parse_if_match('"3"').versions == {3}  # type: ignore[union-attr]
    assert parse_if_match('W/"4", "5"').versions == {5}  # type: ignore[union-attr]
    assert parse_if_match("*").any_version  # type: ignore[union-attr]
    assert parse_if_match("3").versions == frozenset()  # type: ignore[union-attr]


# --- through the API: 400s, never 5xx, and nothing written ----------------------------------


def test_float_in_body_is_400_and_nothing_reaches_dynamodb(invoke: Invoke) -> None:
    """Regression: the draft wrote whatever JSON it got (floats make boto3 raise -> 500)."""
    response = invoke(api_event("POST", "/users", raw_body='{"name": 1.5, "email": "a@b.co"}'))

    assert response.status == 400
    assert response.body["code"] == "VALIDATION_ERROR"
    assert response.body["details"] == [{"field": "name", "message": "name must be a string"}]
    assert table_items() == []


@pytest.mark.parametrize(
    ("raw_body", "code"),
    [
        ("{not json", "INVALID_JSON"),
        ("", "INVALID_JSON"),
        ("[]", "INVALID_BODY"),
        ('"text"', "INVALID_BODY"),
        ('{"name": "A"}', "VALIDATION_ERROR"),
        ('{"name": "A", "email": "a@b.co", "UserId": "mine"}', "VALIDATION_ERROR"),
    ],
)
def test_bad_bodies_on_create_are_400_and_write_nothing(
    invoke: Invoke, raw_body: str, code: str
) -> None:
    response = invoke(api_event("POST", "/users", raw_body=raw_body))

    assert response.status == 400
    assert response.body["code"] == code
    assert response.body["error"]
    assert table_items() == []


def test_body_over_16_kib_is_413(invoke: Invoke) -> None:
    body = json.dumps({"name": "A", "email": "a@b.co", "address": "x" * MAX_BODY_BYTES})

    plain = invoke(api_event("POST", "/users", raw_body=body))
    encoded = invoke(api_event("POST", "/users", raw_body=body, base64_encoded=True))

    assert plain.status == encoded.status == 413
    assert plain.body["code"] == "PAYLOAD_TOO_LARGE"
    assert table_items() == []


def test_base64_encoded_body_is_decoded(invoke: Invoke) -> None:
    response = invoke(api_event("POST", "/users", body=VALID, base64_encoded=True))

    assert response.status == 201


def test_update_with_bad_body_changes_nothing(invoke: Invoke) -> None:
    user = create_user(invoke)
    path = f"/users/{user['UserId']}"

    responses = [
        invoke(api_event("PUT", path, body={"version": 9})),
        invoke(api_event("PUT", path, body={"name": "Ok", "email": 3})),
        invoke(api_event("PUT", path, raw_body="nope")),
    ]

    assert [r.status for r in responses] == [400, 400, 400]
    assert invoke(api_event("GET", path)).data == user


@pytest.mark.parametrize("limit", ["0", "-3", "abc", "2.5", "101", "99999999999"])
def test_bad_limit_is_400_invalid_query(invoke: Invoke, limit: str) -> None:
    """Regression: the draft did ``int(limit)`` (ValueError -> 500) and allowed 0/negatives."""
    response = invoke(api_event("GET", "/users", query={"limit": limit}))

    assert response.status == 400
    assert response.body["code"] == "INVALID_QUERY"
    assert response.body["details"][0]["field"] == "limit"


@pytest.mark.parametrize(
    "token", ["garbage", '{"UserId": {"S": "x"}}', encode_token({"UserId": "x" * 10})[:-2]]
)
def test_foreign_next_token_is_400_invalid_query(invoke: Invoke, token: str) -> None:
    response = invoke(api_event("GET", "/users", query={"nextToken": token}))

    assert response.status == 400
    assert response.body["code"] == "INVALID_QUERY"


def test_a_lone_surrogate_is_bad_input_and_writes_nothing(invoke: Invoke) -> None:
    # Given JSON whose escape spells half a UTF-16 pair: valid JSON, not storable text
    raw = '{"name": "\\ud800x", "email": "ada@example.com"}'
    # When it is posted
    response = invoke(api_event("POST", "/users", raw_body=raw))
    # Then it is a 400, not a 500, and nothing reached the table
    assert (response.status, response.body["code"]) == (400, "INVALID_JSON")
    assert table_items() == []


def test_a_trailing_newline_does_not_pass_for_a_valid_idempotency_key(invoke: Invoke) -> None:
    payload = {"name": "Ada", "email": "ada@example.com"}
    response = invoke(
        api_event("POST", "/users", body=payload, headers={"Idempotency-Key": "abc\n"})
    )
    assert (response.status, response.body["code"]) == (400, "VALIDATION_ERROR")
    assert table_items() == []
