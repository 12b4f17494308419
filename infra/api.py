"""The REST API in front of the function: routes, authorization, stage, logs and JSON errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast

from aws_cdk import CfnDeletionPolicy, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.access import CallerPolicies, methods_of, resource_policy
from infra.ensured_log_group import EnsuredLogGroup
from infra.nag import (
    EXECUTION_LOG_GROUP_ARN_FORMS,
    HEALTH_IS_ANONYMOUS,
    IAM_AUTHORIZATION,
    acknowledge,
)
from infra.names import SERVICE_NAME
from infra.settings import COGNITO, IAM, EnvironmentSettings
from users_api.definitions import (
    CORS_EXPOSED_HEADERS,
    CORS_REQUEST_HEADERS,
    PREFLIGHT_MAX_AGE_SECONDS,
    USER_PATH,
    USERS_PATH,
)

CORS_HEADERS = list(CORS_REQUEST_HEADERS)
EXPOSED_HEADERS = list(CORS_EXPOSED_HEADERS)
USERS_METHODS = methods_of(USERS_PATH)
USER_METHODS = methods_of(USER_PATH)
RETRY_AFTER_SECONDS = "1"
PREFLIGHT_MAX_AGE = Duration.seconds(PREFLIGHT_MAX_AGE_SECONDS)
# API Gateway's request id, the same value as the body's `requestId`.
REQUEST_ID = "context.requestId"


@dataclass(frozen=True)
class GatewayError:
    """A response API Gateway sends itself, before or instead of the function."""

    type: apigw.ResponseType
    status: str | None = None  # None keeps API Gateway's own status
    code: str | None = None  # None uses API Gateway's response type, already UPPER_SNAKE
    message: str | None = None  # None uses API Gateway's own message
    retryable: bool = False


NOT_SIGNED = "The request is not signed: sign it with AWS Signature Version 4"
NOT_ALLOWED = "The caller is not allowed to call this operation"

# Every one gets a JSON body in the contract's envelope, never HTML or an empty body.
# Authorization failures keep API Gateway's statuses (401 for a missing or invalid token,
# 403 for everything IAM refuses) with fixed messages: API Gateway's own name ARNs and
# signatures, which never reach a client.
GATEWAY_ERRORS = (
    GatewayError(apigw.ResponseType.DEFAULT_4_XX),
    GatewayError(apigw.ResponseType.DEFAULT_5_XX),
    GatewayError(
        apigw.ResponseType.UNAUTHORIZED,
        "401",
        "UNAUTHORIZED",
        "The request carries no valid token",
    ),
    # Every path and method has a route (the catch-alls), so this means "not signed".
    GatewayError(apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "403", "FORBIDDEN", NOT_SIGNED),
    GatewayError(
        apigw.ResponseType.INVALID_SIGNATURE,
        "403",
        "FORBIDDEN",
        "The request's signature does not match: sign it again",
    ),
    GatewayError(
        apigw.ResponseType.EXPIRED_TOKEN,
        "403",
        "FORBIDDEN",
        "The request's credentials have expired: sign it with fresh ones",
    ),
    GatewayError(apigw.ResponseType.ACCESS_DENIED, "403", "FORBIDDEN", NOT_ALLOWED),
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
        self.authorizer = self._authorizer(settings)
        self._add_routes(apigw.LambdaIntegration(function, allow_test_invoke=False))
        if settings.access.authorization == IAM:
            acknowledge(self.rest_api, IAM_AUTHORIZATION)
        self._add_gateway_responses(settings)
        self.execution_log_group = self._execution_log_group(settings)
        # Cognito callers carry no AWS identity: an IAM policy would grant them nothing.
        self.caller_policies = (
            CallerPolicies(
                self,
                "CallerPolicies",
                rest_api=self.rest_api,
                stage_name=settings.name,
                environment=settings.name,
            )
            if settings.access.authorization == IAM
            else None
        )
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

    def _execution_log_group(self, settings: EnvironmentSettings) -> EnsuredLogGroup:
        """API Gateway's execution log, which it would otherwise create unowned and unexpiring.

        A custom resource ensures it, because the group may already exist: a release that did
        not own it let API Gateway create it. The stage depends on it, so the group exists
        before the stage writes its first line.
        """
        group = EnsuredLogGroup(
            self,
            "ExecutionLogGroup",
            log_group_name=(
                f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{settings.name}"
            ),
            settings=settings,
        )
        acknowledge(group.role, *EXECUTION_LOG_GROUP_ARN_FORMS)
        self.rest_api.deployment_stage.node.add_dependency(group.resource)
        self._retire_owned_execution_log_group(settings)
        return group

    def _retire_owned_execution_log_group(self, settings: EnvironmentSettings) -> None:
        """Keeps the ExecutionLogs logical id for one release, as an empty placeholder group.

        The previous release owned the execution log group as this AWS::Logs::LogGroup, with
        the environment's DeletionPolicy (Delete in dev). Removed from the template, it would
        be deleted in the update's cleanup, after the custom resource adopted it. Renamed to a
        generated name instead, it is replaced, and its UpdateReplacePolicy (now Retain) keeps
        the real group. The next release removes this placeholder (docs/upgrading-log-group.md).
        """
        placeholder = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=settings.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        cfn = cast(logs.CfnLogGroup, placeholder.node.default_child)
        cfn.cfn_options.update_replace_policy = CfnDeletionPolicy.RETAIN

    def _rest_api(self, settings: EnvironmentSettings) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{SERVICE_NAME}-{settings.name}",
            description=f"Users API ({settings.name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            policy=(
                resource_policy(settings.access, settings.name)
                if settings.access.authorization == IAM
                else None
            ),
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

    def _authorizer(self, settings: EnvironmentSettings) -> apigw.IAuthorizer | None:
        if settings.access.authorization != COGNITO:
            return None
        # The pool belongs to the consumer (its sign-up, MFA and clients), not to this stack.
        assert settings.access.cognito_user_pool_arn  # checked in infra/settings.py
        pool = cognito.UserPool.from_user_pool_arn(
            self, "UserPool", settings.access.cognito_user_pool_arn
        )
        return apigw.CognitoUserPoolsAuthorizer(
            self,
            "UserPoolAuthorizer",
            cognito_user_pools=[pool],
            authorizer_name=f"{SERVICE_NAME}-{settings.name}-user-pool",
        )

    @property
    def protected(self) -> apigw.MethodOptions:
        """How every method that reaches users' data (or the function) is authorized."""
        access = self.settings.access
        if access.authorization == IAM:
            return apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM)
        return apigw.MethodOptions(
            authorization_type=apigw.AuthorizationType.COGNITO,
            authorizer=self.authorizer,
            authorization_scopes=list(access.cognito_scopes) or None,
        )

    def _add_routes(self, integration: apigw.LambdaIntegration) -> None:
        root = self.rest_api.root
        users = root.add_resource("users")
        user = users.add_resource("{userId}")
        # Health holds no data: monitors and load balancers call it without credentials.
        health = root.add_method(
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE
        )
        acknowledge(health, *HEALTH_IS_ANONYMOUS)
        self._add_preflight(root, ["GET"])
        for resource, methods in ((users, USERS_METHODS), (user, USER_METHODS)):
            for method in methods:
                self._add_protected(resource, method, integration)
            self._add_preflight(resource, methods)
        # Other methods on known paths, and unknown paths, reach the function so that it
        # answers the contract's JSON 405 and 404; they are authorized like the users' routes.
        for any_path in (root, users, user):
            self._add_protected(any_path, "ANY", integration)
        root.add_proxy(
            default_integration=integration,
            any_method=True,
            default_method_options=self.protected,
        )

    def _add_protected(
        self, resource: apigw.IResource, method: str, integration: apigw.Integration
    ) -> apigw.Method:
        options = self.protected
        return resource.add_method(
            method,
            integration,
            authorization_type=options.authorization_type,
            authorizer=options.authorizer,
            authorization_scopes=options.authorization_scopes,
        )

    def _add_preflight(self, resource: apigw.IResource, methods: list[str]) -> apigw.Method:
        """The CORS preflight, answered by API Gateway itself with its request id."""
        origins = self.settings.allowed_origins
        headers = {
            "Access-Control-Allow-Headers": f"'{','.join(CORS_HEADERS)}'",
            "Access-Control-Allow-Origin": f"'{origins[0]}'",
            "Access-Control-Allow-Methods": f"'{','.join([*methods, 'OPTIONS'])}'",
            "Access-Control-Max-Age": f"'{PREFLIGHT_MAX_AGE.to_seconds():.0f}'",
            "X-Request-Id": REQUEST_ID,
        }
        if origins[0] != "*":
            headers["Vary"] = "'Origin'"
        parameters = {f"method.response.header.{name}": value for name, value in headers.items()}
        return resource.add_method(
            "OPTIONS",
            apigw.MockIntegration(
                request_templates={"application/json": "{ statusCode: 200 }"},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="204",
                        response_parameters=parameters,
                        response_templates=_echo_origin_template(origins),
                    )
                ],
            ),
            # Browsers never send credentials on a preflight.
            authorization_type=apigw.AuthorizationType.NONE,
            method_responses=[
                apigw.MethodResponse(
                    status_code="204",
                    response_parameters=dict.fromkeys(parameters, True),
                )
            ],
        )

    def _add_gateway_responses(self, settings: EnvironmentSettings) -> None:
        for error in GATEWAY_ERRORS:
            headers = {
                # A gateway response cannot echo a matching origin; prod lists its main one first.
                "Access-Control-Allow-Origin": f"'{settings.allowed_origins[0]}'",
                "Access-Control-Expose-Headers": f"'{','.join(EXPOSED_HEADERS)}'",
                "Content-Type": "'application/json'",
                "X-Request-Id": REQUEST_ID,
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


def _echo_origin_template(origins: tuple[str, ...]) -> dict[str, str] | None:
    """Answer a preflight from any listed origin with that origin (the first is the default)."""
    others = origins[1:]
    if not others:
        return None
    condition = " || ".join(f'$origin == "{origin}"' for origin in others)
    return {
        "application/json": "\n".join(
            (
                '#set($origin = $input.params().header.get("Origin"))',
                f"#if({condition})",
                "  #set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)",
                "#end",
            )
        )
    }


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
