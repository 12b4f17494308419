"""One source of truth for the environment: names, paths and outputs agree."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from infra.names import OutputKeys
from infra.settings import ConfigurationError, ContextReader, environment_name, load_settings
from infra.stack import UsersApiStack
from users_api import definitions


def test_stack_name_and_every_environment_scoped_name_agree(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given a stack synthesized for one environment
    assert stack.stack_name == f"UsersApi-{environment}"
    # Then every parameter lives under that environment's path
    names = [
        p["Properties"]["Name"] for p in template.find_resources("AWS::SSM::Parameter").values()
    ]
    assert sorted(names) == sorted(
        f"/{environment}/users-api/{leaf}"
        for leaf in (
            definitions.PARAMETER_TABLE_NAME,
            definitions.PARAMETER_IDEMPOTENCY_TABLE_NAME,
            definitions.PARAMETER_DEFAULT_PAGE_SIZE,
            definitions.PARAMETER_MAX_PAGE_SIZE,
        )
    )
    # And no other environment's name appears anywhere in the template
    other = {"dev": "prod", "prod": "dev"}[environment]
    assert f"/{other}/" not in json.dumps(template.to_json())
    assert f"-{other}" not in json.dumps(template.to_json())


def test_parameters_hold_the_table_name_and_page_sizes(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    table_ref = stack.resolve(stack.data.table.table_name)
    template.has_resource_properties(
        "AWS::SSM::Parameter",
        {"Name": f"/{environment}/users-api/tableName", "Type": "String", "Value": table_ref},
    )
    records_ref = stack.resolve(stack.data.idempotency_table.table_name)
    template.has_resource_properties(
        "AWS::SSM::Parameter",
        {"Name": f"/{environment}/users-api/idempotencyTableName", "Value": records_ref},
    )
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": f"/{environment}/users-api/defaultPageSize", "Value": "20"}
    )
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": f"/{environment}/users-api/maxPageSize", "Value": "100"}
    )


def reader(values: dict[str, str]) -> ContextReader:
    return lambda key: values.get(key)


def test_environment_variable_selects_the_environment() -> None:
    assert environment_name(reader({}), environ={"ENVIRONMENT": "prod"}) == "prod"


def test_context_wins_over_the_environment_variable() -> None:
    context = reader({"environment": "dev"})
    assert environment_name(context, environ={"ENVIRONMENT": "prod"}) == "dev"


def test_default_environment_is_dev() -> None:
    assert environment_name(reader({}), environ={}) == "dev"


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="Unknown environment 'staging'"):
        environment_name(reader({"environment": "staging"}), environ={})


def test_prod_refuses_a_wildcard_origin() -> None:
    context = reader({"environment": "prod", "allowedOrigins": "*"})
    with pytest.raises(ConfigurationError, match="prod must list its allowed origins"):
        load_settings(context, environ={})


def test_outputs_have_stable_keys(template: Template) -> None:
    # Literal on purpose: clients read these keys, so renaming one must fail a test.
    assert set(template.find_outputs("*")) == {
        "ApiUrl",
        "RestApiId",
        "StageName",
        "TableName",
        "IdempotencyTableName",
        "FunctionName",
        "TableKeyArn",
        "ParameterPath",
        "AlarmTopicArn",
        "ReadOnlyPolicyArn",
        "ReadWritePolicyArn",
    }


def test_parameter_path_output_is_the_functions_path(template: Template, environment: str) -> None:
    outputs = template.find_outputs(OutputKeys.PARAMETER_PATH)
    assert outputs[OutputKeys.PARAMETER_PATH]["Value"] == f"/{environment}/users-api"
