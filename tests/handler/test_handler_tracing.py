"""Tracing: Powertools' Tracer (X-Ray) only where it traces; else nothing is imported for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from users_api.observability import UntracedTracer, make_tracer, tracing_enabled

CODE_DIR = Path(__file__).resolve().parents[2] / "lambda"
IN_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "users-api"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        (IN_LAMBDA, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": " 1 "}, False),
        ({**IN_LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
        ({"POWERTOOLS_TRACE_DISABLED": "false"}, False),  # not in Lambda: no X-Ray daemon
    ],
    ids=["enabled", "default", "disabled", "disabled-1", "sam-local", "outside-lambda"],
)
def test_tracing_is_on_exactly_where_powertools_would_trace(
    env: dict[str, str], expected: bool
) -> None:
    assert tracing_enabled(env) is expected


def test_without_tracing_the_decorators_leave_the_function_as_it_is() -> None:
    # Given the tracer of a function whose tracing is off
    tracer = make_tracer({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"})
    assert isinstance(tracer, UntracedTracer)

    def fails() -> None:
        raise ValueError("boom")

    def answer(event: dict[str, str], context: object) -> dict[str, str]:
        return event

    # When it decorates a handler and a method
    handler = tracer.capture_lambda_handler(capture_response=False)(answer)
    method = tracer.capture_method(capture_response=False)(fails)

    # Then they are the functions themselves: same results, same errors
    assert handler is answer
    assert handler({"a": "b"}, None) == {"a": "b"}
    with pytest.raises(ValueError, match="boom"):
        method()


def test_with_tracing_on_the_tracer_patches_only_botocore() -> None:
    # Given a fresh interpreter in a Lambda environment with tracing on
    code = (
        "import json, sys\n"
        "from users_api.observability import tracer\n"
        "patches = sorted(m for m in sys.modules if m.startswith('aws_xray_sdk.ext.')"
        " and m.endswith('.patch'))\n"
        "print(json.dumps([type(tracer).__name__, patches]))\n"
    )
    env = {**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false", "AWS_REGION": "eu-west-1"}

    # When the function's observability module is imported
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=CODE_DIR,
        env={**env, "PYTHONPATH": str(CODE_DIR)},
        capture_output=True,
        text=True,
        check=False,
    )

    # Then Powertools' Tracer traces the AWS calls, and only those
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["Tracer", ["aws_xray_sdk.ext.botocore.patch"]]
