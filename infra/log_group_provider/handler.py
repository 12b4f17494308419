"""CloudFormation custom resource provider that ensures one CloudWatch Logs group exists.

It adopts a group that someone else already created (API Gateway creates its execution log
group by itself, and a release that did not own it left one behind), so a deploy never fails
with "already exists". Like CDK's LogRetention, but in Python: the e2e suite's host mode runs
Python Lambda runtimes only.

Properties: LogGroupName, RetentionInDays, Tags ({key: value}), RemovalPolicy ("destroy" or
"retain"). The physical id is the group's name.

- Create/Update: create the group unless it exists, set its retention, tag it.
- Delete: delete the group only with RemovalPolicy "destroy"; with "retain" leave it.

CloudFormation waits up to an hour for an answer, so every path answers: SUCCESS, or FAILED
with one sentence. The code runs alone in its own asset: boto3 comes with Lambda's runtime.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

DESTROY = "destroy"
RETAIN = "retain"
# The physical id of a group this provider never created or adopted (a failed Create):
# the rollback's Delete must not touch a group of that name that exists for other reasons.
NOTHING_OWNED = "not-created"
# Bounded SDK calls, so that the answer is sent well before the function's own timeout.
SDK_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3})
RESPONSE_ATTEMPTS = 3
REASON_LIMIT = 1000  # CloudFormation shows the reason in its events; keep it readable


class ProviderError(Exception):
    """A request this provider cannot honour; the message is the FAILED reason."""


def on_event(event: dict[str, Any], context: Any) -> None:
    request = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or NOTHING_OWNED
    status, reason = "SUCCESS", ""
    try:
        physical_id = handle(request, physical_id, event)
    except Exception as error:  # CloudFormation must hear about every failure
        status, reason = "FAILED", _reason(error)
    _log(request=request, physical_id=physical_id, status=status, reason=reason)
    respond(event, context, status=status, physical_id=physical_id, reason=reason)


def handle(request: Any, physical_id: str, event: dict[str, Any]) -> str:
    """Carry out the request; returns the physical id to answer with."""
    if request == "Delete" and physical_id == NOTHING_OWNED:
        return physical_id  # the rollback of a failed Create: there is nothing to look at
    properties = _properties(event)
    name = properties["LogGroupName"]
    logs = boto3.client("logs", config=SDK_CONFIG)
    if request in ("Create", "Update"):
        ensure(logs, name, properties["RetentionInDays"], properties["Tags"])
        return str(name)
    if request == "Delete":
        # Only the group this resource stands for, and only when the policy says so.
        if physical_id == name and properties["RemovalPolicy"] == DESTROY:
            delete(logs, name)
        return physical_id
    raise ProviderError(f"Unknown request type {request!r}.")


def ensure(logs: Any, name: str, retention_days: int, tags: dict[str, str]) -> None:
    try:
        logs.create_log_group(logGroupName=name, tags=tags)
    except logs.exceptions.ResourceAlreadyExistsException:
        # Adopted as it is, with its events; tags are added, never removed.
        if tags:
            logs.tag_log_group(logGroupName=name, tags=tags)
    logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)


def delete(logs: Any, name: str) -> None:
    # Already gone is what a Delete wants.
    with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=name)


def respond(
    event: dict[str, Any], context: Any, *, status: str, physical_id: str, reason: str = ""
) -> None:
    """PUT the result to CloudFormation's pre-signed ResponseURL, retrying a few times."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason or f"See CloudWatch Logs: {getattr(context, 'log_stream_name', '')}",
            "PhysicalResourceId": physical_id,
            "StackId": event.get("StackId", ""),
            "RequestId": event.get("RequestId", ""),
            "LogicalResourceId": event.get("LogicalResourceId", ""),
            "NoEcho": False,
            "Data": {"LogGroupName": physical_id} if status == "SUCCESS" else {},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's https URL
        event["ResponseURL"],
        data=body,
        method="PUT",
        # The URL is signed for an empty content type.
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    for attempt in range(1, RESPONSE_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                answer.read()
            return
        except (urllib.error.URLError, TimeoutError) as error:
            _log(response_attempt=attempt, error=str(error))
            if attempt == RESPONSE_ATTEMPTS:
                raise
            time.sleep(attempt)


def _properties(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("ResourceProperties") or {}
    name = raw.get("LogGroupName")
    if not name:
        raise ProviderError("The property LogGroupName is required.")
    policy = str(raw.get("RemovalPolicy", RETAIN)).lower()
    if policy not in (DESTROY, RETAIN):
        raise ProviderError(f"RemovalPolicy must be {DESTROY} or {RETAIN}, not {policy!r}.")
    try:
        # CloudFormation passes every property as a string.
        retention = int(raw.get("RetentionInDays", ""))
    except ValueError:
        raise ProviderError("The property RetentionInDays must be a number of days.") from None
    tags = raw.get("Tags") or {}
    if not isinstance(tags, dict):
        raise ProviderError("The property Tags must be a map of tag names to values.")
    return {
        "LogGroupName": str(name),
        "RetentionInDays": retention,
        "RemovalPolicy": policy,
        "Tags": {str(k): str(v) for k, v in tags.items()},
    }


def _reason(error: Exception) -> str:
    if isinstance(error, ProviderError):
        text = str(error)
    elif isinstance(error, ClientError):
        details = error.response.get("Error", {})
        text = (
            f"CloudWatch Logs refused {error.operation_name}: "
            f"{details.get('Code', 'Error')}: {details.get('Message', '')}"
        )
    elif isinstance(error, BotoCoreError):
        text = f"CloudWatch Logs could not be reached: {error}"
    else:
        text = f"Unexpected {type(error).__name__}: {error}"
    return text[:REASON_LIMIT]


def _log(**fields: Any) -> None:
    # Never the event itself: its ResponseURL is a credential for this one answer.
    print(json.dumps({"provider": "log-group", **fields}))
