"""Least privilege measured on the deployed stack, after every other test of the session.

The function's role: every call the function made (LocalStack's call recorder) is allowed by
a statement of the deployed role, and every grant of that role was used by a call, or is
declared used on the function's behalf by a service. The callers' policies: every request
the suite sent is allowed by the read-only and the read-write policy exactly as the contract
says. Both judged by moto's policy evaluator; both tables are printed at the end of the session
and written beside the suite's state for CI to keep (docs/least-privilege.md).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from e2e.harness.deploy import ACCOUNT, REGION
from e2e.harness.deployment import Deployment
from e2e.least_privilege import callers, reports
from e2e.least_privilege.audit import audit, managed_policy_document, recorded_calls, render
from e2e.least_privilege.audit import role_documents as deployed_role_documents
from infra.function import USED_ON_THE_FUNCTIONS_BEHALF
from infra.names import OutputKeys

pytestmark = pytest.mark.audit


def test_the_functions_role_grants_exactly_the_calls_it_made(
    aws: Any, deployment: Deployment
) -> None:
    # Given the deployed role of the function, and the calls the session made it make
    role_arn = aws("lambda").get_function_configuration(FunctionName=deployment.function_name)[
        "Role"
    ]
    documents = deployed_role_documents(aws, role_arn.rsplit("/", 1)[-1])
    calls = recorded_calls(deployment.endpoint)

    # When each call is judged against each statement, and each grant against the calls
    result = audit(
        calls, role_arn, deployment.function_name, documents, USED_ON_THE_FUNCTIONS_BEHALF
    )
    reports.write(reports.FUNCTION_REPORT, render(result))

    # Then the function made calls, each allowed, and every grant was used (or is declared so)
    failures = result.failures
    assert result.calls > 0, f"no call of the function's role {role_arn} was recorded"
    assert not failures, "\n".join(failures)


def test_the_callers_policies_allow_exactly_what_the_contract_gives_them(
    aws: Any, deployment: Deployment
) -> None:
    # Given the deployed read-only and read-write policies, and every request the suite sent
    outputs = deployment.outputs
    read_only = managed_policy_document(aws, outputs[OutputKeys.READ_ONLY_POLICY_ARN])
    read_write = managed_policy_document(aws, outputs[OutputKeys.READ_WRITE_POLICY_ARN])
    sent = dict(callers.SENT)
    arn_of = partial(
        callers.method_arn,
        REGION,
        ACCOUNT,
        outputs[OutputKeys.REST_API_ID],
        outputs[OutputKeys.STAGE_NAME],
    )

    # When each is judged as the execute-api:Invoke API Gateway would authorise
    verdicts = callers.judge(sent, read_only, read_write, arn_of)
    reports.write(reports.CALLERS_REPORT, callers.render(verdicts, sent))

    # Then every authorized operation of the contract was exercised, and each policy allowed
    # exactly the requests the contract gives it
    assert not callers.unsent_operations(sent), "operations the suite never sent"
    disagreeing = [
        f"{v.request.method} {v.request.path}: read-only {v.read_only}, read-write "
        f"{v.read_write}; the contract says {v.expected}"
        for v in verdicts
        if not v.agrees
    ]
    assert not disagreeing, "\n".join(disagreeing)
