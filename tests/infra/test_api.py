"""The REST API: regional, staged per environment, observable, throttled, JSON errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aws_cdk.assertions import Match, Template

from infra.api import CORS_HEADERS, EXPOSED_HEADERS
from infra.settings import ENVIRONMENTS
from infra.stack import UsersApiStack
from tests.infra.conftest import Synthesized, only_resource


def test_api_is_regional(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )


def test_stage_per_environment_is_observable_and_throttled(
    template: Template, environment: str
) -> None:
    settings = ENVIRONMENTS[environment]
    stage = only_resource(template, "AWS::ApiGateway::Stage")["Properties"]
    assert stage["StageName"] == environment
    assert stage["TracingEnabled"] is True
    assert stage["MethodSettings"] == [
        {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "MetricsEnabled": True,
            "LoggingLevel": "INFO",
            "DataTraceEnabled": False,
            "ThrottlingRateLimit": settings.throttle_rate_limit,
            "ThrottlingBurstLimit": settings.throttle_burst_limit,
        }
    ]


def test_throttling_comes_from_configuration() -> None:
    from tests.infra.conftest import synth

    _, template = synth({"environment": "dev", "throttleRateLimit": "7", "throttleBurstLimit": "3"})
    stage = only_resource(template, "AWS::ApiGateway::Stage")["Properties"]
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 7
    assert stage["MethodSettings"][0]["ThrottlingBurstLimit"] == 3


def test_access_logs_are_json_in_their_own_log_group(
    stack: UsersApiStack, template: Template
) -> None:
    stage = only_resource(template, "AWS::ApiGateway::Stage")["Properties"]
    access_log = stage["AccessLogSetting"]
    assert access_log["DestinationArn"] == stack.resolve(stack.api.access_log_group.log_group_arn)
    fields = json.loads(access_log["Format"])
    assert {"requestId", "httpMethod", "resourcePath", "status"} <= set(fields)


def integration_methods(template: Template) -> Mapping[str, Any]:
    return template.find_resources(
        "AWS::ApiGateway::Method",
        {"Properties": {"Integration": {"Type": "AWS_PROXY"}}},
    )


def test_every_route_of_the_contract_reaches_the_function(template: Template) -> None:
    methods = {m["Properties"]["HttpMethod"] for m in integration_methods(template).values()}
    assert {"GET", "POST", "PUT", "DELETE", "ANY"} == methods
    for method in integration_methods(template).values():
        assert method["Properties"]["Integration"]["IntegrationHttpMethod"] == "POST"
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "users"})
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "{userId}"})
    # Unknown paths reach the function, which answers the contract's JSON 404.
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "{proxy+}"})


def test_cors_preflight_allows_the_paths_methods_and_the_headers_read(template: Template) -> None:
    preflights = template.find_resources(
        "AWS::ApiGateway::Method", {"Properties": {"HttpMethod": "OPTIONS"}}
    )
    allowed_methods = set()
    for preflight in preflights.values():
        integration = preflight["Properties"]["Integration"]
        assert integration["Type"] == "MOCK"
        (response,) = integration["IntegrationResponses"]
        assert response["StatusCode"] == "204"
        headers = response["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Headers"] == (
            "'" + ",".join(CORS_HEADERS) + "'"
        )
        allowed_methods.add(headers["method.response.header.Access-Control-Allow-Methods"])
        # API Gateway answers the preflight itself, with its request id like every answer.
        assert headers["method.response.header.X-Request-Id"] == "context.requestId"
        (declared,) = preflight["Properties"]["MethodResponses"]
        assert declared["StatusCode"] == "204"
        assert set(declared["ResponseParameters"]) == set(headers)
    assert allowed_methods == {
        "'GET,OPTIONS'",
        "'GET,POST,OPTIONS'",
        "'GET,PUT,DELETE,OPTIONS'",
    }


def test_preflight_allows_the_headers_a_browser_signs_with(template: Template) -> None:
    assert {"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} <= set(CORS_HEADERS)


def test_preflight_echoes_any_listed_origin() -> None:
    from tests.infra.conftest import synth

    # Given prod with two origins
    _, template = synth(
        {"environment": "prod", "allowedOrigins": "https://a.example,https://b.example"}
    )
    preflights = template.find_resources(
        "AWS::ApiGateway::Method", {"Properties": {"HttpMethod": "OPTIONS"}}
    )
    for preflight in preflights.values():
        (response,) = preflight["Properties"]["Integration"]["IntegrationResponses"]
        headers = response["ResponseParameters"]
        # Then the first is the default, the second is echoed when it asks, and caches vary
        assert headers["method.response.header.Access-Control-Allow-Origin"] == (
            "'https://a.example'"
        )
        assert headers["method.response.header.Vary"] == "'Origin'"
        echo = response["ResponseTemplates"]["application/json"]
        assert '$origin == "https://b.example"' in echo
        assert "responseOverride.header.Access-Control-Allow-Origin = $origin" in echo


def test_prod_never_allows_every_origin(synthesized: Synthesized) -> None:
    _, template = synthesized["prod"]
    assert "'*'" not in json.dumps(template.find_resources("AWS::ApiGateway::Method"))
    assert "'*'" not in json.dumps(template.find_resources("AWS::ApiGateway::GatewayResponse"))
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like({"ALLOWED_ORIGINS": "https://app.example.com"})
            }
        },
    )


def gateway_responses(template: Template) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in template.find_resources("AWS::ApiGateway::GatewayResponse").values()
    }


def render(vtl: str) -> dict[str, Any]:
    """Fill API Gateway's variables the way it would, then parse the body."""
    body = vtl.replace("$context.error.messageString", '"Missing Authentication Token"')
    body = re.sub(r"\$context\.[A-Za-z.]+", "X", body)
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def test_api_gateways_own_errors_are_json_envelopes(template: Template, environment: str) -> None:
    responses = gateway_responses(template)
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for properties in responses.values():
        body = render(properties["ResponseTemplates"]["application/json"])
        assert body["success"] is False
        assert body["environment"] == environment
        assert body["error"]
        assert body["code"]
        assert body["requestId"]
        assert properties["ResponseParameters"]["gatewayresponse.header.Content-Type"] == (
            "'application/json'"
        )


def test_every_gateway_response_carries_the_request_id_and_exposes_headers(
    template: Template,
) -> None:
    for properties in gateway_responses(template).values():
        headers = properties["ResponseParameters"]
        assert headers["gatewayresponse.header.X-Request-Id"] == "context.requestId"
        exposed = headers["gatewayresponse.header.Access-Control-Expose-Headers"]
        assert exposed == "'" + ",".join(EXPOSED_HEADERS) + "'"
        assert {"Retry-After", "X-Request-Id"} <= set(EXPOSED_HEADERS)


def test_refused_callers_get_the_contracts_401_and_403(template: Template) -> None:
    responses = gateway_responses(template)
    expected = {
        "UNAUTHORIZED": ("401", "UNAUTHORIZED"),
        "ACCESS_DENIED": ("403", "FORBIDDEN"),
        # Every path and method has a route, so a missing token means an unsigned request.
        "MISSING_AUTHENTICATION_TOKEN": ("403", "FORBIDDEN"),
        "INVALID_SIGNATURE": ("403", "FORBIDDEN"),
        "EXPIRED_TOKEN": ("403", "FORBIDDEN"),
    }
    for response_type, (status, code) in expected.items():
        properties = responses[response_type]
        assert properties["StatusCode"] == status
        body = render(properties["ResponseTemplates"]["application/json"])
        assert body["code"] == code
        # A fixed sentence: API Gateway's own message names ARNs and signatures.
        assert "$context.error" not in properties["ResponseTemplates"]["application/json"]
        assert "arn:" not in body["error"]


def test_gateway_responses_answer_the_contracts_statuses(template: Template) -> None:
    responses = gateway_responses(template)
    expected = {
        "REQUEST_TOO_LARGE": ("413", "PAYLOAD_TOO_LARGE"),
        "THROTTLED": ("429", "TOO_MANY_REQUESTS"),
        "INTEGRATION_FAILURE": ("503", "SERVICE_UNAVAILABLE"),
    }
    for response_type, (status, code) in expected.items():
        properties = responses[response_type]
        assert properties["StatusCode"] == status
        assert render(properties["ResponseTemplates"]["application/json"])["code"] == code
    # Retryable answers tell the client when to come back.
    for response_type in ("THROTTLED", "INTEGRATION_FAILURE"):
        headers = responses[response_type]["ResponseParameters"]
        assert headers["gatewayresponse.header.Retry-After"] == "'1'"
    # The catch-all 5xx keeps API Gateway's status: relabelling would hide real faults.
    assert "StatusCode" not in responses["DEFAULT_5XX"]
