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
class EnvironmentSettings:
    name: str
    log_retention: logs.RetentionDays
    retain_data: bool
    throttle_rate_limit: float
    throttle_burst_limit: int
    tracing_enabled: bool
    allowed_origins: tuple[str, ...]
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
    ),
    "prod": EnvironmentSettings(
        name="prod",
        log_retention=logs.RetentionDays.THREE_MONTHS,
        retain_data=True,
        throttle_rate_limit=100,
        throttle_burst_limit=200,
        tracing_enabled=True,
        allowed_origins=("https://app.example.com",),
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
    "alarmEmail": ("alarm_email", str),
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
    settings = replace(settings, **overrides)
    if settings.name == "prod" and "*" in settings.allowed_origins:
        raise ConfigurationError("prod must list its allowed origins; '*' is for dev only")
    return settings


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
