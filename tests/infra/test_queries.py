"""The saved Logs Insights queries: one per question on-call asks first."""

from __future__ import annotations

from aws_cdk.assertions import Template

from infra.stack import UsersApiStack


def test_saved_queries_for_on_call(
    stack: UsersApiStack, template: Template, environment: str
) -> None:
    # Given the saved Logs Insights queries
    queries = {
        q["Properties"]["Name"]: q["Properties"]
        for q in template.find_resources("AWS::Logs::QueryDefinition").values()
    }
    function_logs = stack.resolve(stack.service.log_group.log_group_name)
    access_logs = stack.resolve(stack.api.access_log_group.log_group_name)
    prefix = f"UsersApi-{environment}"
    # Then there is one per question an on-call engineer asks first
    assert set(queries) == {
        f"{prefix}/request-trail",
        f"{prefix}/slowest-requests",
        f"{prefix}/errors-by-code",
    }
    trail = queries[f"{prefix}/request-trail"]
    assert trail["LogGroupNames"] == [function_logs, access_logs]
    assert 'correlation_id = "REPLACE-WITH-REQUEST-ID"' in trail["QueryString"]
    assert 'requestId = "REPLACE-WITH-REQUEST-ID"' in trail["QueryString"]
    assert "| sort @timestamp asc" in trail["QueryString"]
    slowest = queries[f"{prefix}/slowest-requests"]
    assert slowest["LogGroupNames"] == [function_logs]
    assert "| sort durationMs desc" in slowest["QueryString"]
    errors = queries[f"{prefix}/errors-by-code"]
    assert errors["LogGroupNames"] == [function_logs]
    assert "| stats count(*) as occurrences by errorCode, level" in errors["QueryString"]
