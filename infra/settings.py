"""Per-environment settings: the one place that knows what `dev` and `prod` mean.

The environment name comes from `-c environment=<name>` or the ENVIRONMENT variable
(context wins) and every name in the stack is derived from it, so a stack called
`UsersApi-dev` can only ever hold `/dev/...` resources.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.names import SERVICE_NAME, stack_name

# `app.node.try_get_context`, or a dict's `get` in tests.
ContextReader = Callable[[str], Any]

DEFAULT_ENVIRONMENT = "dev"


class ConfigurationError(ValueError):
    """Raised at synth time for a setting the stack cannot honour."""


@dataclass(frozen=True)
class AlarmThresholds:
    """What "failing" means in one environment; every alarm reads its threshold from here.

    Rates are percentages of requests (or invocations) in one period. An alarm fires when
    `datapoints_to_alarm` of the last `evaluation_periods` periods breach.
    """

    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    function_error_rate_percent: float
    function_throttles: int
    # The p99 duration alarm fires at this share of the function's timeout.
    function_duration_timeout_ratio: float
    api_5xx_rate_percent: float
    api_4xx_rate_percent: float
    api_latency_p99_ms: int
    table_system_errors: int
    table_throttled_requests: int
    error_log_lines: int


@dataclass(frozen=True)
class EnvironmentSettings:
    name: str
    log_retention: logs.RetentionDays
    retain_data: bool
    throttle_rate_limit: float
    throttle_burst_limit: int
    tracing_enabled: bool
    allowed_origins: tuple[str, ...]
    alarms: AlarmThresholds
    config_ttl_seconds: int = 60
    default_page_size: int = 20
    max_page_size: int = 100
    # API Gateway's CloudWatch role is one per account and region; only one stack should own it.
    manage_api_gateway_account_role: bool = True
    alarm_email: str | None = field(default=None)

    @property
    def stack_name(self) -> str:
        return stack_name(self.name)

    @property
    def parameter_path(self) -> str:
        return f"/{self.name}/{SERVICE_NAME}"

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY


ENVIRONMENTS: dict[str, EnvironmentSettings] = {
    "dev": EnvironmentSettings(
        name="dev",
        log_retention=logs.RetentionDays.ONE_WEEK,
        retain_data=False,
        throttle_rate_limit=50,
        throttle_burst_limit=100,
        tracing_enabled=True,
        allowed_origins=("*",),
        # Looser and slower: dev traffic is sparse and a single bad request is a large share.
        alarms=AlarmThresholds(
            period_seconds=300,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            function_error_rate_percent=10,
            function_throttles=5,
            function_duration_timeout_ratio=0.9,
            api_5xx_rate_percent=10,
            api_4xx_rate_percent=50,
            api_latency_p99_ms=5000,
            table_system_errors=1,
            table_throttled_requests=5,
            error_log_lines=5,
        ),
    ),
    "prod": EnvironmentSettings(
        name="prod",
        log_retention=logs.RetentionDays.THREE_MONTHS,
        retain_data=True,
        throttle_rate_limit=100,
        throttle_burst_limit=200,
        tracing_enabled=True,
        allowed_origins=("https://app.example.com",),
        alarms=AlarmThresholds(
            period_seconds=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            function_error_rate_percent=1,
            function_throttles=1,
            function_duration_timeout_ratio=0.8,
            api_5xx_rate_percent=1,
            api_4xx_rate_percent=20,
            api_latency_p99_ms=2500,
            table_system_errors=1,
            table_throttled_requests=1,
            error_log_lines=1,
        ),
    ),
}

# Context keys a user may set with `-c key=value` (or in cdk.json) to override a default.
_OVERRIDES: dict[str, tuple[str, type]] = {
    "throttleRateLimit": ("throttle_rate_limit", float),
    "throttleBurstLimit": ("throttle_burst_limit", int),
    "tracing": ("tracing_enabled", bool),
    "allowedOrigins": ("allowed_origins", tuple),
    "configTtlSeconds": ("config_ttl_seconds", int),
    "manageApiGatewayAccountRole": ("manage_api_gateway_account_role", bool),
}


def environment_name(context: ContextReader, environ: Mapping[str, str] | None = None) -> str:
    """The single source of truth for the environment name."""
    environ = os.environ if environ is None else environ
    name = context("environment") or environ.get("ENVIRONMENT") or DEFAULT_ENVIRONMENT
    if name not in ENVIRONMENTS:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise ConfigurationError(f"Unknown environment {name!r}; expected one of: {known}")
    return str(name)


def load_settings(
    context: ContextReader, environ: Mapping[str, str] | None = None
) -> EnvironmentSettings:
    """Settings for the selected environment with any context overrides applied."""
    settings = ENVIRONMENTS[environment_name(context, environ)]
    overrides = {
        attribute: _coerce(key, context(key), kind)
        for key, (attribute, kind) in _OVERRIDES.items()
        if context(key) not in (None, "")
    }
    settings = replace(settings, **overrides, alarm_email=alarm_email(context, environ))
    if settings.name == "prod" and "*" in settings.allowed_origins:
        raise ConfigurationError("prod must list its allowed origins; '*' is for dev only")
    return settings


def alarm_email(context: ContextReader, environ: Mapping[str, str] | None = None) -> str | None:
    """The single source of truth for the alarm e-mail: `-c alarmEmail=` or ALARM_EMAIL.

    Context wins; unset (or empty), the alarm topic has no subscription.
    """
    environ = os.environ if environ is None else environ
    address = str(context("alarmEmail") or environ.get("ALARM_EMAIL") or "").strip()
    if not address:
        return None
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        raise ConfigurationError(f"Alarm e-mail {address!r} is not an e-mail address")
    return address


def _coerce(key: str, value: Any, kind: type) -> Any:
    # Context from the command line always arrives as a string.
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise ConfigurationError(f"Context {key!r} must be true or false, got {value!r}")
    if kind is tuple:
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(item.strip() for item in items if item.strip())
    try:
        return kind(value)
    except ValueError as error:
        raise ConfigurationError(f"Context {key!r} must be a {kind.__name__}") from error
