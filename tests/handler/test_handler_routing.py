"""Routing, the envelope, CORS, request ids and hostile-but-valid event shapes."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from tests.handler.conftest import (
    ORIGIN,
    OTHER_ORIGIN,
    AwsRecorders,
    FakeMonotonic,
    Invoke,
    api_event,
    create_user,
    make_invoker,
    moto_container,
)
from users_api.api import UsersApi
from users_api.definitions import ROUTES
from users_api.routing import Router, resource_of
from users_api.settings import Settings

ENVELOPE_ERROR_KEYS = {"success", "error", "code", "requestId", "timestamp", "environment"}


def test_unknown_route_answers_404_not_found_with_the_envelope(invoke: Invoke) -> None:
    # When
    response = invoke(api_event("GET", "/nope"))

    # Then
    assert response.status == 404
    assert response.body["code"] == "NOT_FOUND"
    assert set(response.body) == ENVELOPE_ERROR_KEYS
    assert response.body["success"] is False
    assert response.header("Content-Type") == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/users", "GET, OPTIONS, POST"),
        ("PATCH", "/users/3f0c0000-0000-4000-8000-000000000000", "DELETE, GET, OPTIONS, PUT"),
        ("POST", "/", "GET, OPTIONS"),
    ],
)
def test_known_path_with_unsupported_method_answers_405(
    invoke: Invoke, method: str, path: str, allowed: str
) -> None:
    # When
    response = invoke(api_event(method, path))

    # Then
    assert response.status == 405
    assert response.body["code"] == "METHOD_NOT_ALLOWED"
    assert response.header("Allow") == allowed


def test_every_response_carries_request_id_cors_and_json_content_type(invoke: Invoke) -> None:
    # Given a browser request from an allowed origin, and one without any Origin
    from_browser = api_event("GET", "/nope", headers={"Origin": OTHER_ORIGIN}, request_id="gw-1")
    from_curl = api_event("GET", "/users", request_id="gw-2")

    # When
    browser_response = invoke(from_browser)
    curl_response = invoke(from_curl)

    # Then
    assert browser_response.header("X-Request-Id") == "gw-1"
    assert browser_response.header("Access-Control-Allow-Origin") == OTHER_ORIGIN
    assert browser_response.header("Vary") == "Origin"
    assert curl_response.header("X-Request-Id") == "gw-2"
    assert curl_response.header("Access-Control-Allow-Origin") == ORIGIN
    assert curl_response.header("Content-Type") == "application/json"


def test_a_disallowed_origin_is_not_echoed(invoke: Invoke) -> None:
    # When
    response = invoke(api_event("GET", "/users", headers={"Origin": "https://evil.example"}))

    # Then the header names the configured origin, which the browser will not accept for evil
    assert response.header("Access-Control-Allow-Origin") == ORIGIN


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/users", "GET,OPTIONS,POST"), ("/users/any-id", "DELETE,GET,OPTIONS,PUT")],
)
def test_cors_preflight_allows_the_methods_of_the_path_and_the_api_headers(
    invoke: Invoke, path: str, methods: str
) -> None:
    # When
    response = invoke(
        api_event(
            "OPTIONS",
            path,
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"},
        )
    )

    # Then
    assert response.status == 204
    assert response.header("Access-Control-Allow-Methods") == methods
    assert response.header("Access-Control-Allow-Origin") == ORIGIN
    allowed_headers = (response.header("Access-Control-Allow-Headers") or "").lower().split(",")
    for header in ("content-type", "if-match", "idempotency-key", "authorization", "x-api-key"):
        assert header in allowed_headers
    assert not response.raw["body"]


def test_preflight_on_an_unknown_path_is_404(invoke: Invoke) -> None:
    response = invoke(api_event("OPTIONS", "/nope", headers={"Origin": ORIGIN}))

    assert response.status == 404


def test_request_id_is_api_gateways_when_present(invoke: Invoke) -> None:
    response = invoke(api_event("GET", "/users/not-a-uuid", request_id="gw-req-42"))

    assert response.body["requestId"] == "gw-req-42"


def test_request_id_falls_back_to_lambda_aws_request_id(invoke: Invoke) -> None:
    """Regression: the draft read ``context.request_id``, which Lambda contexts do not have."""
    # Given an event without requestContext, and a context without ``request_id``
    event = api_event("GET", "/users/not-a-uuid", request_id=None)

    # When
    response = invoke(event)

    # Then
    assert response.status == 404
    assert response.body["requestId"] == "lambda-req-0001"
    assert response.header("X-Request-Id") == "lambda-req-0001"


def test_null_path_query_and_headers_are_handled(invoke: Invoke) -> None:
    """Regression: the draft called ``.get`` on ``pathParameters`` that can be null."""
    # Given
    user = create_user(invoke)
    event = api_event("GET", f"/users/{user['UserId']}")
    event.update(pathParameters=None, queryStringParameters=None, headers=None)
    event.update(multiValueHeaders=None, multiValueQueryStringParameters=None)

    # When
    response = invoke(event)
    listing = invoke(api_event("GET", "/users", headers=None, query=None))

    # Then
    assert response.status == 200
    assert response.data["UserId"] == user["UserId"]
    assert listing.status == 200


def test_header_names_are_case_insensitive(invoke: Invoke) -> None:
    # Given
    user = create_user(invoke)

    # When
    response = invoke(api_event("DELETE", f"/users/{user['UserId']}", headers={"IF-MATCH": '"7"'}))

    # Then the header was read: the stale ETag is refused
    assert response.status == 412


def test_user_paths_that_are_not_user_ids_are_404_without_touching_the_table(
    invoke: Invoke, recorders: AwsRecorders
) -> None:
    reserved = "idempotency#" + "0" * 64
    for path in (f"/users/{reserved}", "/users/health%23probe", f"/users/{uuid.uuid4()}x"):
        # When
        before = list(recorders.dynamodb.operations)
        response = invoke(api_event("GET", path))

        # Then
        assert response.status == 404, path
        assert response.body["code"] == "USER_NOT_FOUND"
        assert recorders.dynamodb.operations == before


def test_a_malformed_event_still_answers_the_envelope(invoke: Invoke) -> None:
    # Given something that is not an API Gateway event at all
    response = invoke({"requestContext": {"requestId": "gw-x"}})

    # Then
    assert response.status == 500
    assert response.body["code"] == "INTERNAL_ERROR"
    assert response.body["requestId"] == "gw-x"


def test_wildcard_origin_in_dev_answers_star(
    aws: None,
    settings: Settings,
    clock: FakeMonotonic,
    recorders: AwsRecorders,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given ALLOWED_ORIGINS=*
    dev = replace(settings, allowed_origins=("*",))
    invoke = make_invoker(UsersApi(dev, moto_container(dev, clock, recorders)), monkeypatch)

    # When
    with_origin = invoke(api_event("GET", "/users", headers={"Origin": "http://localhost:3000"}))
    without_origin = invoke(api_event("GET", "/nope"))

    # Then
    assert with_origin.header("Access-Control-Allow-Origin") == "*"
    assert without_origin.header("Access-Control-Allow-Origin") == "*"


def test_settings_are_read_from_the_stack_environment_variables() -> None:
    settings = Settings.from_env(
        {
            "ENVIRONMENT": "prod",
            "CONFIG_PARAMETER_PATH": "/prod/users-api/",
            "CONFIG_TTL_SECONDS": "not-a-number",
            "ALLOWED_ORIGINS": " https://a.example , https://b.example ,",
            "APP_VERSION": "2.0.0",
        }
    )

    assert settings == Settings(
        environment="prod",
        config_parameter_path="/prod/users-api",
        config_ttl_seconds=60,
        allowed_origins=("https://a.example", "https://b.example"),
        app_version="2.0.0",
    )


def test_the_function_serves_exactly_the_shared_route_table(api: UsersApi) -> None:
    # Given the routes the stack builds its API Gateway methods from (users_api.definitions)
    shared = {(method, path) for path, methods in ROUTES.items() for method in methods}

    # Then the function registers a handler for each, and for nothing else
    assert api.routes == shared


def test_a_route_outside_the_shared_table_cannot_be_registered() -> None:
    router: Router[object] = Router()

    with pytest.raises(ValueError, match="PATCH /users"):
        router.add("PATCH", "/users", object())


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/", "/"),
        ("/users", "/users"),
        ("/users/", "/users"),
        ("/users/abc", "/users/{userId}"),
        ("/users/abc/", "/users/{userId}"),
        ("/users/abc/def", None),
        ("//users", None),
    ],
)
def test_paths_name_their_resource_ignoring_a_trailing_slash(
    path: str, resource: str | None
) -> None:
    found = resource_of(path)
    assert (found[0] if found else None) == resource
