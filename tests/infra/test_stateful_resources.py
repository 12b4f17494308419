"""Stateful resources can't be replaced by accident: their identities are frozen.

tests/infra/stateful_resources.json holds, per environment, every stateful resource's logical
id and the properties whose change replaces it. A renamed construct, a new key schema or a
named table fails here, naming the resource, before any deploy could replace it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Template

from infra.names import STATEFUL_TYPES
from infra.settings import load_settings
from infra.stack import UsersApiStack
from tests.infra.conftest import ENVIRONMENTS, NO_BUNDLING, Synthesized
from tests.infra.stateful import FROZEN_FILE, differences, stateful_identities

FROZEN: dict[str, dict[str, dict[str, Any]]] = json.loads(
    (Path(__file__).resolve().parents[2] / FROZEN_FILE).read_text()
)


def test_every_stateful_resource_keeps_its_identity(synthesized: Synthesized) -> None:
    # Given the frozen identities of dev and prod
    assert set(FROZEN) == set(ENVIRONMENTS)
    sentences = []
    for environment in ENVIRONMENTS:
        # When each environment's template is read
        stack, template = synthesized[environment]
        current = stateful_identities(stack, template)
        sentences += differences(stack.stack_name, FROZEN[environment], current)
    # Then nothing stateful would be replaced, deleted or go unfrozen
    assert not sentences, "\n".join(sentences)


def test_the_frozen_set_covers_both_tables_the_keys_the_log_groups_and_the_topic() -> None:
    for environment, frozen in FROZEN.items():
        types = sorted(identity["Type"] for identity in frozen.values())
        assert set(types) == set(STATEFUL_TYPES), environment
        assert types.count("AWS::DynamoDB::Table") == 2, environment
        assert types.count("AWS::KMS::Key") == 2, environment


def changed_stack(environment: str, change: Callable[[dynamodb.CfnTable], None]) -> list[str]:
    """The freeze check's sentences for the environment with its users table changed."""
    app = App(context={**NO_BUNDLING, "environment": environment})
    stack = UsersApiStack(app, settings=load_settings(app.node.try_get_context, environ={}))
    table = stack.data.table.node.default_child
    assert isinstance(table, dynamodb.CfnTable)
    change(table)
    current = stateful_identities(stack, Template.from_stack(stack))
    return differences(stack.stack_name, FROZEN[environment], current)


def test_a_renamed_table_construct_is_named_as_deleted() -> None:
    # Given dev with the users table's construct renamed (a new logical id, as "Users" gives)
    # When its identities are compared with the frozen ones
    sentences = changed_stack("dev", lambda table: table.override_logical_id("DataUsers2A1B3C4D"))
    # Then the old table is named as deleted and the new one as unfrozen
    assert sentences == [
        "UsersApi-dev: AWS::DynamoDB::Table DataUsersTableA308CF66 (Data/UsersTable/Resource) is "
        "no longer in the template (a renamed or moved construct gets a new logical id): "
        "CloudFormation would delete it and create a new, empty one.",
        "UsersApi-dev: AWS::DynamoDB::Table DataUsers2A1B3C4D (Data/UsersTable/Resource) is new: "
        f"freeze it in {FROZEN_FILE} (python -m tests.infra.stateful prints the current values).",
    ]


def test_a_changed_key_schema_is_named_as_a_replacement() -> None:
    # Given prod with the users table's partition key renamed
    # When compared
    sentences = changed_stack(
        "prod", lambda table: table.add_property_override("KeySchema.0.AttributeName", "Id")
    )
    # Then the sentence names the table and the property
    assert sentences == [
        "UsersApi-prod: AWS::DynamoDB::Table DataUsersTableA308CF66 (Data/UsersTable/Resource) "
        "changed KeySchema, which replaces it: KeySchema "
        "[{'AttributeName': 'UserId', 'KeyType': 'HASH'}] -> "
        "[{'AttributeName': 'Id', 'KeyType': 'HASH'}]."
    ]
