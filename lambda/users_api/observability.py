"""Powertools Logger, Metrics and Tracer shared by the whole function.

Service name, metrics namespace, log level and tracing switches come from the standard
Powertools environment variables (``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``,
``POWERTOOLS_LOG_LEVEL``, ``POWERTOOLS_TRACE_DISABLED``, ``POWERTOOLS_TRACER_CAPTURE_RESPONSE``).

Tracing follows Powertools' own rule (on inside Lambda unless ``POWERTOOLS_TRACE_DISABLED``),
but with tracing off the tracer is a stand-in: Powertools' Tracer imports the X-Ray SDK even
when disabled, and the SDK creates X-Ray clients at import, a large share of a cold start.

Logging rule: never log request bodies, the event, or any personal field (name, email, phone,
address). Log ids, routes, status codes and error codes only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, overload

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from users_api import definitions

TRUTHY = frozenset({"1", "y", "yes", "t", "true", "on"})
# Emulators where Powertools turns tracing off: no X-Ray daemon listens there.
LOCAL_EMULATORS = ("AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")
TRACED_MODULES = ("botocore",)

# The stack sets both variables; the defaults keep a misconfigured function from failing on flush.
SERVICE_NAME = os.getenv("POWERTOOLS_SERVICE_NAME") or definitions.SERVICE_NAME
METRICS_NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE") or definitions.METRICS_NAMESPACE

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def tracing_enabled(env: Mapping[str, str]) -> bool:
    """Whether Powertools' Tracer would trace: in Lambda, not in an emulator, not disabled."""
    disabled = env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in TRUTHY
    in_lambda = bool(env.get("LAMBDA_TASK_ROOT"))
    emulated = any(env.get(name) for name in LOCAL_EMULATORS)
    return in_lambda and not emulated and not disabled


def _unchanged[F: Callable[..., Any]](function: F) -> F:
    return function


class UntracedTracer:
    """The Tracer's decorators, as they behave with tracing off: they change nothing."""

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        return _unchanged if lambda_handler is None else lambda_handler

    @overload
    def capture_method[F: Callable[..., Any]](self, method: F) -> F: ...

    @overload
    def capture_method[F: Callable[..., Any]](
        self,
        method: None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[[F], F]: ...

    def capture_method[F: Callable[..., Any]](
        self,
        method: F | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> F | Callable[[F], F]:
        return _unchanged if method is None else method


def make_tracer(env: Mapping[str, str]) -> Tracer | UntracedTracer:
    if not tracing_enabled(env):
        return UntracedTracer()
    # Every call the function makes goes through botocore; patching all that the X-Ray SDK
    # knows would import sqlite3 and its database and `requests` patches for nothing.
    return Tracer(service=SERVICE_NAME, patch_modules=TRACED_MODULES)


tracer = make_tracer(os.environ)


def count(metric_name: str) -> None:
    """Record one occurrence of a business event."""
    metrics.add_metric(name=metric_name, unit=MetricUnit.Count, value=1)
