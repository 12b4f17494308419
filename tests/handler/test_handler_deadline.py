"""The function answers before its own timeout, whatever a dependency does: a server that accepts
connections and never answers stands in for a stalled DynamoDB or Parameter Store."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

import handler
from tests.handler.conftest import (
    REGION,
    FakeLambdaContext,
    api_event,
    function_client,
    parse_response,
)
from users_api.api import UsersApi
from users_api.container import DYNAMODB_BOTO_CONFIG, SSM_BOTO_CONFIG, Container
from users_api.settings import Settings

USER_ID = "3f0c0000-0000-4000-8000-000000000000"


class HangingServer:
    """Accepts every connection, reads what is sent, never answers."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self._socket.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.close()


@dataclass
class Context(FakeLambdaContext):
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def call(api: UsersApi, event: dict[str, Any], remaining_ms: int, monkeypatch: Any) -> Any:
    monkeypatch.setattr(handler, "API", api)
    started = time.monotonic()
    response = parse_response(handler.lambda_handler(event, Context(remaining_ms=remaining_ms)))
    return response, time.monotonic() - started


def api_with_stalled_dynamodb(settings: Settings, server: HangingServer) -> UsersApi:
    container = Container(
        settings,
        ssm_client_factory=lambda: function_client("ssm"),
        dynamodb_factory=lambda: boto3.resource(
            "dynamodb", region_name=REGION, endpoint_url=server.url, config=DYNAMODB_BOTO_CONFIG
        ),
    )
    return UsersApi(settings, container)


def test_a_write_to_a_stalled_dynamodb_answers_504_before_the_function_times_out(
    aws: None, settings: Settings, hanging: HangingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB accepts the request and never answers, and 7 s are left of the invocation
    api = api_with_stalled_dynamodb(settings, hanging)

    # When a user is created
    response, elapsed = call(
        api, api_event("POST", "/users", body={"name": "A", "email": "a@b.co"}), 7_000, monkeypatch
    )

    # Then the function retried inside its budget and answered the unknown outcome itself
    assert response.status == 504
    assert response.body["code"] == "DEPENDENCY_TIMEOUT"
    assert elapsed < 7.0 - 0.5
    assert len(hanging.connections) == 2  # two attempts fitted in the budget, a third did not


def test_a_read_from_a_stalled_dynamodb_answers_503_before_the_function_times_out(
    aws: None, settings: Settings, hanging: HangingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    api = api_with_stalled_dynamodb(settings, hanging)

    # When
    response, elapsed = call(api, api_event("GET", f"/users/{USER_ID}"), 7_000, monkeypatch)

    # Then a read never leaves an unknown outcome
    assert response.status == 503
    assert response.body["code"] == "SERVICE_UNAVAILABLE"
    assert elapsed < 7.0 - 0.5
    assert len(hanging.connections) == 2


def test_a_stalled_parameter_store_with_nothing_cached_answers_503_in_time(
    settings: Settings, hanging: HangingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Parameter Store never answers and the function has no configuration yet
    container = Container(
        settings,
        ssm_client_factory=lambda: boto3.client(
            "ssm", region_name=REGION, endpoint_url=hanging.url, config=SSM_BOTO_CONFIG
        ),
    )

    # When
    response, elapsed = call(
        UsersApi(settings, container), api_event("GET", "/users"), 10_000, monkeypatch
    )

    # Then nothing was written, and the answer came well inside the function's 10 s
    assert response.status == 503
    assert elapsed < 9.0


def test_no_time_left_for_a_dependency_call_answers_503_without_calling(
    aws: None, settings: Settings, hanging: HangingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the invocation has less time left than one attempt needs
    api = api_with_stalled_dynamodb(settings, hanging)

    # When
    response, _ = call(
        api, api_event("POST", "/users", body={"name": "A", "email": "a@b.co"}), 2_500, monkeypatch
    )

    # Then nothing was sent, so nothing can have been written: 503
    assert response.status == 503
    assert hanging.connections == []
