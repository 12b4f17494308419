"""Runtime configuration from SSM Parameter Store: batched read, TTL, last-known-good, 503."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.handler.conftest import (
    REGION,
    AwsRecorders,
    FakeMonotonic,
    Invoke,
    api_event,
    create_table,
    make_invoker,
    moto_container,
    put_parameters,
    table_items,
)
from tests.handler.function_role import FunctionRole
from users_api.api import UsersApi
from users_api.config import ConfigLoader
from users_api.container import Container
from users_api.errors import DependencyUnavailable
from users_api.settings import Settings


class SsmOutage:
    """Makes every GetParameters call of the attached client fail like a throttled SSM."""

    def __init__(self) -> None:
        self.active = False

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.ssm.GetParameters", self._maybe_fail)

    def _maybe_fail(self, **_: Any) -> None:
        if self.active:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "GetParameters",
            )


@pytest.fixture
def outage() -> SsmOutage:
    return SsmOutage()


@pytest.fixture
def flaky_invoke(
    aws: None,
    settings: Settings,
    clock: FakeMonotonic,
    recorders: AwsRecorders,
    outage: SsmOutage,
    monkeypatch: pytest.MonkeyPatch,
) -> Invoke:
    container = moto_container(settings, clock, recorders)
    ssm_factory = container._ssm_client_factory

    def ssm_client() -> Any:
        client = ssm_factory()
        outage.attach(client)
        return client

    container._ssm_client_factory = ssm_client
    return make_invoker(UsersApi(settings, container), monkeypatch)


def test_table_name_is_read_from_parameter_store(
    aws: None, invoke: Invoke, recorders: AwsRecorders, function_role: FunctionRole
) -> None:
    """Regression: the draft read TABLE_NAME from the environment and never used SSM."""
    # Given the parameter names another table (the stack's: the role allows no other)
    create_table("users-elsewhere")
    function_role.name_tables(users="users-elsewhere")
    put_parameters({"tableName": "users-elsewhere"})

    # When
    response = invoke(api_event("POST", "/users", body={"name": "A", "email": "a@b.co"}))

    # Then the user is in the table the parameter names
    assert response.status == 201
    other = boto3.resource("dynamodb", region_name=REGION).Table("users-elsewhere")
    assert len(other.scan()["Items"]) == 1
    assert table_items() == []
    # ... read in one batched GetParameters call, the only SSM action the stack allows
    assert recorders.ssm.operations == ["GetParameters"]


def test_config_is_cached_for_the_ttl_and_a_changed_value_is_picked_up_after_it(
    aws: None, invoke: Invoke, clock: FakeMonotonic, recorders: AwsRecorders
) -> None:
    # Given maxPageSize is 100, so limit=150 is refused
    assert invoke(api_event("GET", "/users", query={"limit": "150"})).status == 400

    # When an operator raises it to 200
    put_parameters({"maxPageSize": "200"})

    # Then within the TTL the cached value still applies, without another SSM call
    clock.advance(59)
    assert invoke(api_event("GET", "/users", query={"limit": "150"})).status == 400
    assert recorders.ssm.operations == ["GetParameters"]

    # And after the TTL the new value is picked up, without a redeploy
    clock.advance(2)
    response = invoke(api_event("GET", "/users", query={"limit": "150"}))
    assert response.status == 200
    assert recorders.ssm.operations == ["GetParameters", "GetParameters"]


def test_ssm_unavailable_with_nothing_cached_is_503(
    flaky_invoke: Invoke, outage: SsmOutage
) -> None:
    # Given Parameter Store throttles from the first call on
    outage.active = True

    # When
    listing = flaky_invoke(api_event("GET", "/users"))
    creation = flaky_invoke(api_event("POST", "/users", body={"name": "A", "email": "a@b.co"}))

    # Then
    for response in (listing, creation):
        assert response.status == 503
        assert response.body["code"] == "SERVICE_UNAVAILABLE"
        assert "Rate exceeded" not in response.raw["body"]
        assert "Throttling" not in response.raw["body"]
    assert table_items() == []


def test_ssm_unavailable_after_a_successful_read_keeps_serving_the_cached_config(
    flaky_invoke: Invoke, outage: SsmOutage, clock: FakeMonotonic
) -> None:
    # Given a first successful read
    assert flaky_invoke(api_event("GET", "/users")).status == 200

    # When Parameter Store fails after the TTL has expired
    outage.active = True
    clock.advance(3600)

    # Then the last known good configuration keeps the API up
    response = flaky_invoke(api_event("POST", "/users", body={"name": "A", "email": "a@b.co"}))
    assert response.status == 201
    assert flaky_invoke(api_event("GET", "/")).status == 200


def test_bad_input_is_still_400_when_config_is_unavailable(
    flaky_invoke: Invoke, outage: SsmOutage
) -> None:
    outage.active = True

    assert flaky_invoke(api_event("GET", "/users", query={"limit": "abc"})).status == 400
    assert flaky_invoke(api_event("GET", "/users", query={"nextToken": "zz"})).status == 400
    assert flaky_invoke(api_event("POST", "/users", raw_body="{")).status == 400


def test_health_reports_degraded_when_config_cannot_be_read(
    flaky_invoke: Invoke, outage: SsmOutage
) -> None:
    outage.active = True

    response = flaky_invoke(api_event("GET", "/"))

    assert response.status == 503
    assert response.data["status"] == "degraded"
    assert response.data["checks"]["config"] == "error"


# --- the loader on its own -------------------------------------------------------------------


class FakeParameterStore:
    """Answers GetParameters from a dict, as SSM does: unknown names are InvalidParameters."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls = 0
        self.failing = False

    def get_parameters(self, *, Names: list[str]) -> Any:
        self.calls += 1
        if self.failing:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "GetParameters")
        return {
            "Parameters": [
                {"Name": name, "Value": self.values[name], "Type": "String"}
                for name in Names
                if name in self.values
            ],
            "InvalidParameters": [name for name in Names if name not in self.values],
        }


def test_loader_applies_defaults_and_backs_off_after_a_failure() -> None:
    # Given only the table name exists
    provider = FakeParameterStore(
        {"/dev/users-api/tableName": "t", "/dev/users-api/idempotencyTableName": "i"}
    )
    clock = FakeMonotonic()
    loader = ConfigLoader("/dev/users-api/", 60, lambda: provider, clock=clock)

    # When
    config = loader.get()

    # Then
    assert (config.table_name, config.default_page_size, config.max_page_size) == ("t", 20, 100)

    # And when SSM fails after the TTL, the loader serves the old value and waits before retrying
    provider.failing = True
    clock.advance(61)
    assert loader.get() == config
    calls = provider.calls
    clock.advance(1)
    assert loader.get() == config
    assert provider.calls == calls  # backing off
    clock.advance(5)
    loader.get()
    assert provider.calls == calls + 1


@pytest.mark.parametrize(
    "parameters",
    [{}, {"/p/tableName": "t"}, {"/p/idempotencyTableName": "i"}],
    ids=["none", "no idempotency table", "no users table"],
)
def test_loader_without_a_table_name_is_unavailable(parameters: dict[str, str]) -> None:
    loader = ConfigLoader("/p", 60, lambda: FakeParameterStore(parameters), clock=FakeMonotonic())

    with pytest.raises(DependencyUnavailable):
        loader.get()


def test_loader_ignores_invalid_page_sizes() -> None:
    provider = FakeParameterStore(
        {
            "/p/tableName": "t",
            "/p/idempotencyTableName": "i",
            "/p/defaultPageSize": "50",
            "/p/maxPageSize": "lots",
        }
    )

    config = ConfigLoader("/p", 60, lambda: provider, clock=FakeMonotonic()).get()

    assert (config.default_page_size, config.max_page_size) == (50, 100)


def test_container_uses_the_parameter_path_from_settings(settings: Settings) -> None:
    container = Container(settings)

    assert container.config.parameter_name("tableName") == "/dev/users-api/tableName"
