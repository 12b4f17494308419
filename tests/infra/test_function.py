"""The function: runtime, the concurrency limit, logging, tracing and its environment."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra.names import RESERVED_CONCURRENCY
from infra.stack import UsersApiStack
from tests.infra.conftest import users_function

RETENTION_DAYS = {"dev": 7, "prod": 90}


def test_reserved_concurrency_is_exactly_five(template: Template) -> None:
    # Given the synthesized stack
    function = users_function(template)["Properties"]
    # Then the function may never run more than five copies at once
    assert RESERVED_CONCURRENCY == 5
    assert function["ReservedConcurrentExecutions"] == RESERVED_CONCURRENCY


def test_function_runs_python_3_13_with_deliberate_limits(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.13",
            "Handler": "handler.lambda_handler",
            "Architectures": ["x86_64"],
            "Timeout": 10,
            "MemorySize": 256,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": Match.any_value()},
        },
    )


def test_tracing_can_be_switched_off() -> None:
    from tests.infra.conftest import synth

    # Given tracing turned off in configuration
    _, template = synth({"environment": "dev", "tracing": "false"})
    # Then neither the function nor the stage trace, and Powertools' tracer is off
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "TracingConfig": Match.absent(),
            "Environment": {"Variables": Match.object_like({"POWERTOOLS_TRACE_DISABLED": "true"})},
        },
    )
    template.has_resource_properties("AWS::ApiGateway::Stage", {"TracingEnabled": False})


def test_log_group_is_named_after_the_function(stack: UsersApiStack, template: Template) -> None:
    # Given the function's explicit log group
    log_group = stack.service.log_group.node.default_child
    resolved_name = stack.resolve(log_group.log_group_name)  # type: ignore[union-attr]
    function_name = users_function(template)["Properties"]["FunctionName"]
    # Then it is /aws/lambda/<the function's own name>, and the function logs to it
    assert resolved_name == {"Fn::Join": ["", ["/aws/lambda/", function_name]]}
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"LoggingConfig": {"LogGroup": stack.resolve(stack.service.log_group.log_group_name)}},
    )


def test_function_name_is_unique_per_stack_instance(template: Template, environment: str) -> None:
    # A suffix from the stack's id: a retried deploy never meets a retained log group.
    name = users_function(template)["Properties"]["FunctionName"]
    delimiter, (prefix, suffix) = name["Fn::Join"]
    assert (delimiter, prefix) == ("-", f"users-api-{environment}")
    assert "AWS::StackId" in str(suffix)


def test_log_retention_is_set_per_environment(template: Template, environment: str) -> None:
    # The deprecated log_retention custom resource is not used.
    template.resource_count_is("Custom::LogRetention", 0)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": Match.any_value(),
            "RetentionInDays": RETENTION_DAYS[environment],
        },
    )


def test_no_asynchronous_retry_settings(template: Template) -> None:
    # Invoked synchronously by API Gateway: async retries would only hide errors.
    template.resource_count_is("AWS::Lambda::EventInvokeConfig", 0)


def test_environment_holds_only_non_secret_settings(template: Template, environment: str) -> None:
    variables = users_function(template)["Properties"]["Environment"]["Variables"]
    assert set(variables) == {
        "ENVIRONMENT",
        "CONFIG_PARAMETER_PATH",
        "CONFIG_TTL_SECONDS",
        "ALLOWED_ORIGINS",
        "APP_VERSION",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "POWERTOOLS_TRACE_DISABLED",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
    }
    # Plain strings only: no table name, key or ARN reference baked into the function.
    assert all(isinstance(value, str) for value in variables.values())
    assert variables["ENVIRONMENT"] == environment
    assert variables["CONFIG_PARAMETER_PATH"] == f"/{environment}/users-api"
