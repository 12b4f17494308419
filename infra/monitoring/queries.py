"""Saved Logs Insights queries, one per question on-call asks first, named
`<stack name>/<query>`; the alarms' descriptions point at them by these names."""

from __future__ import annotations

from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.settings import EnvironmentSettings

REQUEST_TRAIL = "request-trail"
SLOWEST_REQUESTS = "slowest-requests"
ERRORS_BY_CODE = "errors-by-code"

# Pasted into the request-trail query in place of a real id (the X-Request-Id header).
REQUEST_ID_PLACEHOLDER = "REPLACE-WITH-REQUEST-ID"


def add_saved_queries(
    scope: Construct,
    settings: EnvironmentSettings,
    *,
    function_logs: logs.ILogGroup,
    access_logs: logs.ILogGroup,
) -> list[logs.QueryDefinition]:
    def saved(
        construct_id: str, name: str, log_groups: list[logs.ILogGroup], query: logs.QueryString
    ) -> logs.QueryDefinition:
        return logs.QueryDefinition(
            scope,
            construct_id,
            query_definition_name=f"{settings.stack_name}/{name}",
            log_groups=log_groups,
            query_string=query,
        )

    return [
        saved("RequestTrailQuery", REQUEST_TRAIL, [function_logs, access_logs], _request_trail()),
        saved("SlowestRequestsQuery", SLOWEST_REQUESTS, [function_logs], _slowest_requests()),
        saved("ErrorsByCodeQuery", ERRORS_BY_CODE, [function_logs], _errors_by_code()),
    ]


def _request_trail() -> logs.QueryString:
    """Every line of one request, in the function's log and the API's access log."""
    return logs.QueryString(
        fields=[
            "@timestamp",
            "@log",
            "level",
            "message",
            "status",
            "code",
            "httpMethod",
            "resourcePath",
        ],
        # The API's request id (X-Request-Id, the error body's requestId) is the access log's
        # requestId and the handler's correlation_id; the Lambda request id finds the
        # handler's lines too.
        filter_statements=[
            " or ".join(
                f'{field} = "{REQUEST_ID_PLACEHOLDER}"'
                for field in ("requestId", "correlation_id", "request_id", "function_request_id")
            )
        ],
        sort="@timestamp asc",
        limit=500,
    )


def _slowest_requests() -> logs.QueryString:
    return logs.QueryString(
        # Lambda's JSON log format reports each invocation as platform.report; the text
        # format as a REPORT line with @duration.
        fields=[
            "@timestamp",
            "coalesce(record.requestId, @requestId) as lambdaRequestId",
            "coalesce(record.metrics.durationMs, @duration) as durationMs",
            "record.metrics.initDurationMs as initDurationMs",
            "coalesce(record.metrics.maxMemoryUsedMB, @maxMemoryUsed / 1000000) as maxMemoryUsedMB",
        ],
        filter_statements=['type = "platform.report" or @type = "REPORT"'],
        sort="durationMs desc",
        limit=25,
    )


def _errors_by_code() -> logs.QueryString:
    return logs.QueryString(
        # An ERROR line without a code is an unhandled exception.
        fields=['coalesce(code, "UNHANDLED") as errorCode', "level"],
        filter_statements=['level = "ERROR" or level = "CRITICAL" or ispresent(code)'],
        stats_statements=["count(*) as occurrences by errorCode, level"],
        sort="occurrences desc",
    )
