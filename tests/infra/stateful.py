"""What makes each stateful resource the one it is: read from a template, for the freeze test.

A change to any of these replaces the resource (or deletes it: a new logical id is a new
resource), and with it the data. tests/infra/stateful_resources.json holds the frozen values
for dev and prod; `python -m tests.infra.stateful` prints the current ones, to review and
copy in when a replacement is deliberate.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_cdk import CfnResource, Stack
from aws_cdk.assertions import Template

from infra.names import REPLACING_PROPERTIES, STATEFUL_TYPES

FROZEN_FILE = "tests/infra/stateful_resources.json"


def render(value: Any) -> Any:
    """CloudFormation intrinsics as readable strings: {"Ref": "X"} is "${X}"."""
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            return f"${{{'.'.join(argument)}}}"
        if function == "Fn::Join":
            delimiter, parts = argument
            return delimiter.join(str(render(part)) for part in parts)
        if function.startswith("Fn::"):
            return f"${{{function}:{json.dumps(argument, sort_keys=True)}}}"
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item) for item in value]
    return value


def key_owner(resource: dict[str, Any]) -> Any:
    """The principal the key policy gives the whole key to (kms:*): the account that owns it."""
    statements = resource["Properties"]["KeyPolicy"]["Statement"]
    owners = [s["Principal"] for s in statements if s["Action"] in ("kms:*", ["kms:*"])]
    return render(owners)


def construct_paths(stack: Stack) -> dict[str, str]:
    return {
        stack.resolve(child.logical_id): child.node.path.split("/", 1)[1]
        for child in stack.node.find_all()
        if isinstance(child, CfnResource)
    }


def stateful_identities(stack: Stack, template: Template) -> dict[str, dict[str, Any]]:
    """Logical id -> type, construct path and replacing properties, of every stateful resource."""
    paths = construct_paths(stack)
    found = {}
    for logical_id, resource in template.to_json()["Resources"].items():
        kind = resource["Type"]
        if kind not in STATEFUL_TYPES:
            continue
        properties = resource.get("Properties", {})
        identity: dict[str, Any] = {"Type": kind, "Path": paths.get(logical_id)}
        # Unset properties are left out: absent and unset compare equal.
        for name in REPLACING_PROPERTIES[kind]:
            if name in properties:
                identity[name] = render(properties[name])
        if kind == "AWS::KMS::Key":
            identity["KeyPolicyOwner"] = key_owner(resource)
        found[logical_id] = identity
    return found


def differences(
    stack_name: str, frozen: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> list[str]:
    """One sentence per stateful resource that would be replaced, deleted or is new."""
    sentences = []
    for logical_id, expected in frozen.items():
        label = f"{stack_name}: {expected['Type']} {logical_id} ({expected['Path']})"
        actual = current.get(logical_id)
        if actual is None:
            sentences.append(
                f"{label} is no longer in the template (a renamed or moved construct gets a new "
                "logical id): CloudFormation would delete it and create a new, empty one."
            )
            continue
        # The path only helps the reader: the logical id is what CloudFormation matches on.
        changed = sorted(
            k
            for k in expected.keys() | actual.keys() - {"Path"}
            if expected.get(k) != actual.get(k)
        )
        if changed:
            sentences.append(
                f"{label} changed {', '.join(changed)}, which replaces it: "
                + "; ".join(f"{k} {expected.get(k)!r} -> {actual.get(k)!r}" for k in changed)
                + "."
            )
    for logical_id in sorted(current.keys() - frozen.keys()):
        actual = current[logical_id]
        sentences.append(
            f"{stack_name}: {actual['Type']} {logical_id} ({actual['Path']}) is new: freeze it in "
            f"{FROZEN_FILE} (python -m tests.infra.stateful prints the current values)."
        )
    return sentences


def main() -> None:
    from tests.infra.conftest import ENVIRONMENTS, synth

    current = {}
    for environment in ENVIRONMENTS:
        stack, template = synth({"environment": environment})
        current[environment] = stateful_identities(stack, template)
    json.dump(current, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
