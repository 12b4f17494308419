"""An update that fails half-way on purpose, to see what the platform's rollback leaves serving.

The deployed template plus one resource that cannot be created (an SSM parameter under the
reserved `/aws` prefix, which Parameter Store refuses): CloudFormation has to roll the update back.
On AWS that ends in UPDATE_ROLLBACK_COMPLETE with every resource as it was.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from e2e.harness.deploy import aws_client

FAILING_RESOURCE = "UpgradeSuiteFailsOnPurpose"
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str


def update_that_fails(endpoint: str, stack_name: str) -> Outcome:
    cloudformation = aws_client("cloudformation", endpoint)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body  # boto3 parses JSON bodies
    template["Resources"][FAILING_RESOURCE] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": "/aws/users-api/fails-on-purpose", "Type": "String", "Value": "x"},
    }
    cloudformation.update_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in stack.get("Parameters", [])
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return Outcome(stack["StackStatus"], stack.get("StackStatusReason", ""))
        time.sleep(1)
    return Outcome("TIMED_OUT", f"still {stack['StackStatus']} after {TIMEOUT_SECONDS}s")
