"""Every resource of the stack that takes tags names its service and environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.names import SERVICE_NAME

# The resources that hold data, run code or cost money: each must carry the tags.
TAGGED_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::IAM::Role",
    "AWS::Logs::LogGroup",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Stage",
    "AWS::SNS::Topic",
    "AWS::SSM::Parameter",
)


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    tags = resource.get("Properties", {}).get("Tags", {})
    if isinstance(tags, list):  # most types list {Key, Value}; SSM parameters use a map
        return {tag["Key"]: tag["Value"] for tag in tags}
    return dict(tags)


def test_every_taggable_resource_names_the_service_and_environment(
    template: Template, environment: str
) -> None:
    # Given the synthesized stack of an environment
    resources = template.to_json()["Resources"]
    # Then every resource with tags carries both, with this stack's values
    tagged = {name: r for name, r in resources.items() if tags_of(r)}
    assert tagged
    for name, resource in tagged.items():
        tags = tags_of(resource)
        assert tags.get("service") == SERVICE_NAME, name
        assert tags.get("environment") == environment, name


@pytest.mark.parametrize("resource_type", TAGGED_TYPES)
def test_the_stateful_and_billed_resources_are_tagged(
    template: Template, environment: str, resource_type: str
) -> None:
    resources = template.find_resources(resource_type)
    assert resources, f"the stack has no {resource_type}"
    for name, resource in resources.items():
        assert tags_of(resource).items() >= {
            ("service", SERVICE_NAME),
            ("environment", environment),
        }, name
