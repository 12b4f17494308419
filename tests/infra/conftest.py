"""The stack is synthesized once per session and environment: synth takes seconds."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.names import HANDLER
from infra.settings import load_settings
from infra.stack import UsersApiStack

ENVIRONMENTS = ("dev", "prod")
Synthesized = dict[str, tuple[UsersApiStack, Template]]

# Unit tests never bundle the function's code: bundling pip-installs from PyPI.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


def synth(context: dict[str, Any]) -> tuple[UsersApiStack, Template]:
    app = App(context={**NO_BUNDLING, **context})
    stack = UsersApiStack(app, settings=load_settings(app.node.try_get_context, environ={}))
    return stack, Template.from_stack(stack)


@cache
def synth_environment(name: str) -> tuple[UsersApiStack, Template]:
    """One synth per environment for the whole session (tests/handler reads the role too)."""
    return synth({"environment": name})


@pytest.fixture(scope="session")
def synthesized() -> Synthesized:
    return {name: synth_environment(name) for name in ENVIRONMENTS}


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized, environment: str) -> Template:
    return synthesized[environment][1]


@pytest.fixture(scope="session")
def stack(synthesized: Synthesized, environment: str) -> UsersApiStack:
    return synthesized[environment][0]


def only_resource(template: Template, resource_type: str) -> dict[str, Any]:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {len(resources)}"
    (resource,) = resources.values()
    return dict(resource)


def users_function(template: Template) -> dict[str, Any]:
    """The users function (the other function is the log group provider)."""
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": HANDLER}}
    )
    assert len(functions) == 1, f"expected one function with handler {HANDLER}"
    (function,) = functions.values()
    return dict(function)


def topic_ref(template: Template) -> dict[str, str]:
    (logical_id,) = template.find_resources("AWS::SNS::Topic")
    return {"Ref": logical_id}
