"""An update that fails half-way on purpose, to see what the platform's rollback leaves serving.

The deployed template plus one resource that cannot be created (a table whose key is not among
its attribute definitions, which DynamoDB refuses): CloudFormation has to roll the update back.
On AWS that ends in UPDATE_ROLLBACK_COMPLETE with every resource as it was.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from e2e.harness.deploy import REGION, aws_client

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
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "KeySchema": [{"AttributeName": "undefined", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    # A change set from a template in the toolkit's bucket, as `cdk deploy` makes (the template
    # is beyond TemplateBody's 51,200 bytes; LocalStack 4.14's UpdateStack never rolls back).
    change_set = cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName="upgrade-suite-fails-on-purpose",
        ChangeSetType="UPDATE",
        TemplateURL=_uploaded(endpoint, json.dumps(template)),
        Parameters=[
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in stack.get("Parameters", [])
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cloudformation.get_waiter("change_set_create_complete").wait(
        ChangeSetName=change_set["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])
    # The call returns before the update starts, and the stack's status stays the last one for a
    # while: the outcome is the stack's own final event after the failing resource was tried.
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        tried = [e for e in events if e["LogicalResourceId"] == FAILING_RESOURCE]
        if tried:
            since = min(e["Timestamp"] for e in tried)
            final = [
                e
                for e in events
                if e["LogicalResourceId"] == stack_name
                and e["Timestamp"] >= since
                and not e["ResourceStatus"].endswith("IN_PROGRESS")
            ]
            if final:
                reasons = [e.get("ResourceStatusReason", "") for e in tried]
                return Outcome(final[0]["ResourceStatus"], next((r for r in reasons if r), ""))
        time.sleep(1)
    return Outcome("TIMED_OUT", f"no final stack event after {TIMEOUT_SECONDS}s")


def _uploaded(endpoint: str, body: str) -> str:
    toolkit = aws_client("cloudformation", endpoint).describe_stacks(StackName="CDKToolkit")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in toolkit["Stacks"][0]["Outputs"]}
    bucket, key = outputs["BucketName"], "upgrade-suite/fails-on-purpose.json"
    aws_client("s3", endpoint).put_object(Bucket=bucket, Key=key, Body=body.encode())
    return f"https://s3.{REGION}.amazonaws.com/{bucket}/{key}"
