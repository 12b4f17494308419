"""Logs carry request ids and never personal data; EMF business metrics and their dimensions."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.handler.conftest import Invoke, api_event
from users_api.definitions import (
    METRIC_USER_CREATED,
    METRIC_USER_DELETED,
    METRIC_USER_UPDATED,
    METRIC_VALIDATION_FAILED,
)

PERSONAL = {
    "name": "Zelda Quirinus-Personal",
    "email": "zelda.private@example.org",
    "phone": "+44 7700 900123",
    "address": "221B Secret Street, Hidden Town",
}


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    documents = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_names(documents: list[dict[str, Any]]) -> list[str]:
    names = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names += [metric["Name"] for metric in directive["Metrics"]]
    return names


def test_logs_never_contain_personal_data_or_bodies(
    invoke: Invoke, captured_logs: io.StringIO
) -> None:
    """Regression: the draft logged the whole event (``json.dumps(event)``) with every body."""
    # Given a full life cycle with personal data, including rejected input
    created = invoke(api_event("POST", "/users", body=PERSONAL))
    user_id = created.data["UserId"]
    invoke(api_event("GET", f"/users/{user_id}"))
    invoke(api_event("GET", "/users"))
    invoke(api_event("PUT", f"/users/{user_id}", body={"email": "zelda.new@example.org"}))
    invoke(api_event("POST", "/users", body={**PERSONAL, "email": "bad-zelda-email"}))
    invoke(api_event("POST", "/users", raw_body='{"name": "Zelda Quirinus-Personal",'))
    invoke(api_event("DELETE", f"/users/{user_id}"))

    # Then
    logs = captured_logs.getvalue()
    assert logs, "the logger wrote nothing: the capture is broken"
    for value in [*PERSONAL.values(), "zelda.new@example.org", "bad-zelda-email", "Zelda"]:
        assert value not in logs
    assert user_id in logs  # ids are fine, and useful


def test_logs_are_structured_json_with_the_request_ids(
    invoke: Invoke, captured_logs: io.StringIO
) -> None:
    invoke(api_event("GET", "/users", request_id="gw-log-1"))

    records = [json.loads(line) for line in captured_logs.getvalue().splitlines() if line]
    handled = [r for r in records if r["message"] == "Request handled"]
    assert handled
    assert handled[0]["correlation_id"] == "gw-log-1"
    assert handled[0]["function_request_id"] == "lambda-req-0001"
    assert handled[0]["service"] == "users-api"
    assert handled[0]["status"] == 200


def test_business_metrics_are_emitted_with_service_and_environment_dimensions(
    invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given / When
    user_id = invoke(api_event("POST", "/users", body=PERSONAL)).data["UserId"]
    invoke(api_event("PUT", f"/users/{user_id}", body={"name": "N"}))
    invoke(api_event("DELETE", f"/users/{user_id}"))
    invoke(api_event("POST", "/users", body={"name": 1}))

    # Then
    documents = emf_documents(capsys.readouterr().out)
    names = metric_names(documents)
    for metric in (
        METRIC_USER_CREATED,
        METRIC_USER_UPDATED,
        METRIC_USER_DELETED,
        METRIC_VALIDATION_FAILED,
    ):
        assert names.count(metric) == 1, metric
    business = next(d for d in documents if METRIC_USER_CREATED in metric_names([d]))
    directive = business["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "UsersApi"
    assert sorted(directive["Dimensions"][0]) == ["environment", "service"]
    assert business["service"] == "users-api"
    assert business["environment"] == "dev"
    assert business[METRIC_USER_CREATED] in (1, [1])
    assert PERSONAL["email"] not in json.dumps(documents)


def test_metric_names_are_stable_constants() -> None:
    assert (
        METRIC_USER_CREATED,
        METRIC_USER_UPDATED,
        METRIC_USER_DELETED,
        METRIC_VALIDATION_FAILED,
    ) == ("UserCreated", "UserUpdated", "UserDeleted", "ValidationFailed")
