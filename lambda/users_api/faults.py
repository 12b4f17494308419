"""What a failed AWS call says about a write: *refused* (nothing was applied) or *unconfirmed*
(it was sent and may have been applied).

- refused: throttling, a 503, a transaction cancelled by a conflict, a connection that never
  opened;
- unconfirmed: a read timeout, a connection closed mid-request, any other server-side 5xx
  (DynamoDB's ``InternalServerError`` may come after the write was applied), a transaction with
  the same token still in flight.
"""

from __future__ import annotations

import enum

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NotConnected

# The request was refused as a whole: DynamoDB applied nothing.
REFUSED_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
# Reasons that cancel a whole transaction without applying any of it, and clear on a retry.
TRANSIENT_CANCELLATION_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
# A transaction with the same ClientRequestToken is still running: it may yet commit.
IN_FLIGHT_ERROR_CODES = frozenset({"TransactionInProgressException"})


class Outcome(enum.Enum):
    REFUSED = "refused"
    UNCONFIRMED = "unconfirmed"


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(exc: ClientError) -> list[str]:
    return [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons", [])]


def outcome_of(exc: BaseException) -> Outcome | None:
    """What a failure says about the write; ``None`` when it is no dependency fault at all
    (a condition that failed, a validation error, a bug)."""
    if isinstance(exc, NotConnected):  # connect timeout, refused, DNS: nothing was sent
        return Outcome.REFUSED
    if isinstance(exc, HTTPClientError):  # read timeout, connection closed: sent, unanswered
        return Outcome.UNCONFIRMED
    if not isinstance(exc, ClientError):
        return None
    code = error_code(exc)
    if code in REFUSED_ERROR_CODES:
        return Outcome.REFUSED
    if code == "TransactionCanceledException":
        reasons = set(cancellation_reasons(exc)) - {"None"}
        if reasons and reasons <= TRANSIENT_CANCELLATION_REASONS:
            return Outcome.REFUSED
        return None
    if code in IN_FLIGHT_ERROR_CODES:
        return Outcome.UNCONFIRMED
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if status == 503 or code == "ServiceUnavailable":
        return Outcome.REFUSED  # the service turned the request away without processing it
    if status >= 500 or code == "InternalServerError":
        return Outcome.UNCONFIRMED  # it failed while processing: it may have applied the write
    return None
