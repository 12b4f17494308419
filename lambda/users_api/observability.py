"""Powertools Logger, Metrics and Tracer shared by the whole function.

Service name, metrics namespace, log level and tracing switches come from the standard
Powertools environment variables (``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``,
``POWERTOOLS_LOG_LEVEL``, ``POWERTOOLS_TRACE_DISABLED``, ``POWERTOOLS_TRACER_CAPTURE_RESPONSE``).

Logging rule: never log request bodies, the event, or any personal field (name, email, phone,
address). Log ids, routes, status codes and error codes only.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

# Business metric names (Count). Kept as constants so the dashboard/alarms can reuse them.
METRIC_USER_CREATED = "UserCreated"
METRIC_USER_UPDATED = "UserUpdated"
METRIC_USER_DELETED = "UserDeleted"
METRIC_VALIDATION_FAILED = "ValidationFailed"
BUSINESS_METRICS = (
    METRIC_USER_CREATED,
    METRIC_USER_UPDATED,
    METRIC_USER_DELETED,
    METRIC_VALIDATION_FAILED,
)

# Dimension added to every metric besides Powertools' own ``service`` dimension.
ENVIRONMENT_DIMENSION = "environment"

# The stack sets both variables; the defaults keep a misconfigured function from failing on flush.
SERVICE_NAME = os.getenv("POWERTOOLS_SERVICE_NAME") or "users-api"
METRICS_NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE") or "UsersApi"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)


def count(metric_name: str) -> None:
    """Record one occurrence of a business event."""
    metrics.add_metric(name=metric_name, unit=MetricUnit.Count, value=1)
