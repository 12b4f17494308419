"""Faults injected at botocore's edge of a moto-backed DynamoDB client.

Each planned fault is used by one attempt of the named operation, in order; attempts beyond the
plan reach moto untouched:

- ``refused(code)``: DynamoDB answers an error before applying anything (throttling);
- ``unreachable()``: the request never leaves the function (connect timeout);
- ``lost()``: sent and never answered; nothing was applied (a read timeout);
- ``committed_then_lost()``: applied, and then the answer is lost (a read timeout);
- ``cancelled(*reasons)``: a transaction cancelled as a whole (a conflict).

DynamoDB makes a TransactWriteItems with a ClientRequestToken idempotent for 10 minutes; moto
does not, so this models it: a repeated token answers the first success without applying again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

ENDPOINT = "https://dynamodb.eu-west-1.amazonaws.com"


@dataclass(frozen=True)
class Fault:
    before: Callable[[], Any] | None = None  # raises, or returns botocore's (http, parsed)
    after: BaseException | None = None  # raised once the call was applied


def refused(code: str = "ThrottlingException") -> Fault:
    return Fault(before=lambda: _error(400, {"Error": {"Code": code, "Message": "slow down"}}))


def cancelled(*reasons: str) -> Fault:
    parsed = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": [{"Code": reason} for reason in reasons],
    }
    return Fault(before=lambda: _error(400, parsed))


def server_error(code: str = "InternalServerError", status: int = 500) -> Fault:
    parsed = {"Error": {"Code": code, "Message": "internal"}}
    return Fault(before=lambda: _error(status, parsed))


def unreachable() -> Fault:
    return Fault(before=_raise(ConnectTimeoutError(endpoint_url=ENDPOINT)))


def lost() -> Fault:
    return Fault(before=_raise(ReadTimeoutError(endpoint_url=ENDPOINT)))


def committed_then_lost() -> Fault:
    return Fault(after=ReadTimeoutError(endpoint_url=ENDPOINT))


def _raise(exc: BaseException) -> Callable[[], Any]:
    def fail() -> Any:
        raise exc

    return fail


def _error(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed = {**parsed, "ResponseMetadata": {"HTTPStatusCode": status}}
    return AWSResponse(ENDPOINT, status, HTTPHeaders(), None), parsed


class DynamoFaults:
    def __init__(self, client: Any, *, honour_tokens: bool = True) -> None:
        self._plan: dict[str, list[Fault]] = defaultdict(list)
        self._honour_tokens = honour_tokens
        self._committed_tokens: set[str] = set()
        self.attempts: list[str] = []
        client.meta.events.register("before-call.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def on(self, operation: str, *faults: Fault) -> None:
        """Plan ``faults`` for the next attempts of ``operation`` (e.g. ``"UpdateItem"``)."""
        self._plan[operation].extend(faults)

    def clear(self) -> None:
        """DynamoDB is healthy again: no more faults."""
        self._plan.clear()

    def always(self, operation: str, fault: Fault) -> None:
        self.on(operation, *[fault] * 50)

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        operation = str(model.name)
        self.attempts.append(operation)
        fault = self._plan[operation].pop(0) if self._plan[operation] else Fault()
        context["fault_after"] = fault.after
        if fault.before is not None:
            return fault.before()
        token = json.loads(params.get("body") or b"{}").get("ClientRequestToken")
        context["fault_token"] = token
        if self._honour_tokens and token in self._committed_tokens:
            return AWSResponse(ENDPOINT, 200, HTTPHeaders(), None), {"ResponseMetadata": {}}
        return None

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200 and context.get("fault_token"):
            self._committed_tokens.add(context["fault_token"])
        after = context.pop("fault_after", None)
        if after is not None:
            raise after
