"""The REST API in front of the function: routes, stage, access logs and JSON errors."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.names import SERVICE_NAME
from infra.settings import EnvironmentSettings

CORS_HEADERS = ["Content-Type", "If-Match", "Idempotency-Key", "Authorization", "X-Api-Key"]
USERS_METHODS = ["GET", "POST"]
USER_METHODS = ["GET", "PUT", "DELETE"]
RETRY_AFTER_SECONDS = "1"


@dataclass(frozen=True)
class GatewayError:
    """A response API Gateway sends itself, before or instead of the function."""

    type: apigw.ResponseType
    status: str | None = None  # None keeps API Gateway's own status
    code: str | None = None  # None uses API Gateway's response type, already UPPER_SNAKE
    message: str | None = None  # None uses API Gateway's own message
    retryable: bool = False


# Every one gets a JSON body in the contract's envelope, never HTML or an empty body.
GATEWAY_ERRORS = (
    GatewayError(apigw.ResponseType.DEFAULT_4_XX),
    GatewayError(apigw.ResponseType.DEFAULT_5_XX),
    GatewayError(
        apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "NOT_FOUND", "Resource not found"
    ),
    GatewayError(
        apigw.ResponseType.REQUEST_TOO_LARGE,
        "413",
        "PAYLOAD_TOO_LARGE",
        "Request body is larger than allowed",
    ),
    GatewayError(
        apigw.ResponseType.THROTTLED,
        "429",
        "TOO_MANY_REQUESTS",
        "Too many requests, retry later",
        retryable=True,
    ),
    # The function's reserved concurrency is exhausted: shed load with a retryable answer
    # instead of API Gateway's bare 500/502.
    GatewayError(
        apigw.ResponseType.INTEGRATION_FAILURE,
        "503",
        "SERVICE_UNAVAILABLE",
        "The service is busy, retry later",
        retryable=True,
    ),
)


class UsersApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        function: lambda_.IFunction,
    ):
        super().__init__(scope, construct_id)
        self.settings = settings
        self.access_log_group = self._access_log_group(settings)
        self.rest_api = self._rest_api(settings)
        self._add_routes(apigw.LambdaIntegration(function, allow_test_invoke=False))
        self._add_gateway_responses(settings)
        # RestApi adds an unnamed URL output of its own; the stack names its outputs once.
        self.rest_api.node.try_remove_child("Endpoint")

    @property
    def stage_name(self) -> str:
        return self.rest_api.deployment_stage.stage_name

    def _access_log_group(self, settings: EnvironmentSettings) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "AccessLogs",
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )

    def _rest_api(self, settings: EnvironmentSettings) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{SERVICE_NAME}-{settings.name}",
            description=f"Users API ({settings.name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=settings.manage_api_gateway_account_role,
            # The account's CloudWatch role outlives this stack: other APIs may rely on it.
            cloud_watch_role_removal_policy=(
                RemovalPolicy.RETAIN if settings.manage_api_gateway_account_role else None
            ),
            deploy_options=apigw.StageOptions(
                stage_name=settings.name,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.INFO,
                # Full request/response logging would write users' personal data to the logs.
                data_trace_enabled=False,
                tracing_enabled=settings.tracing_enabled,
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )

    def _add_routes(self, integration: apigw.LambdaIntegration) -> None:
        root = self.rest_api.root
        users = root.add_resource("users")
        user = users.add_resource("{userId}")
        root.add_method("GET", integration)
        for method in USERS_METHODS:
            users.add_method(method, integration)
        for method in USER_METHODS:
            user.add_method(method, integration)
        self._add_preflight(users, USERS_METHODS)
        self._add_preflight(user, USER_METHODS)
        # Other methods on known paths, and unknown paths, reach the function so that it
        # answers the contract's JSON 405 and 404 on AWS and LocalStack alike.
        for any_path in (root, users, user):
            any_path.add_method("ANY", integration)
        root.add_proxy(default_integration=integration, any_method=True)

    def _add_preflight(self, resource: apigw.Resource, methods: list[str]) -> None:
        resource.add_cors_preflight(
            allow_origins=list(self.settings.allowed_origins),
            allow_methods=[*methods, "OPTIONS"],
            allow_headers=CORS_HEADERS,
            status_code=204,
            max_age=Duration.hours(1),
        )

    def _add_gateway_responses(self, settings: EnvironmentSettings) -> None:
        for error in GATEWAY_ERRORS:
            headers = {
                # A gateway response cannot echo a matching origin; prod lists its main one first.
                "Access-Control-Allow-Origin": f"'{settings.allowed_origins[0]}'",
                "Content-Type": "'application/json'",
            }
            if error.retryable:
                headers["Retry-After"] = f"'{RETRY_AFTER_SECONDS}'"
            self.rest_api.add_gateway_response(
                error.type.response_type,
                type=error.type,
                status_code=error.status,
                response_headers=headers,
                templates={
                    "application/json": _error_template(settings.name, error.code, error.message)
                },
            )


def _error_template(environment: str, code: str | None, message: str | None) -> str:
    """The contract's error envelope as a Gateway Response template.

    API Gateway cannot format an ISO timestamp here, so these bodies carry no `timestamp`.
    """
    # $context.error.messageString is already a quoted JSON string.
    error = json.dumps(message) if message else "$context.error.messageString"
    return (
        '{"success":false,'
        f'"error":{error},'
        f'"code":"{code or "$context.error.responseType"}",'
        '"requestId":"$context.requestId",'
        f'"environment":"{environment}"}}'
    )
