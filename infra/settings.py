"""Per-environment settings: the one place that knows what `dev` and `prod` mean.

The environment name comes from `-c environment=<name>` or the ENVIRONMENT variable
(context wins) and every name in the stack is derived from it, so a stack called
`UsersApi-dev` can only ever hold `/dev/...` resources.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.names import ALLOW_REPLACE_CONTEXT, SERVICE_NAME, stack_name

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


# Who may call the API. There is no "none": every route that touches users is authorized.
IAM = "iam"  # callers sign with SigV4 and need execute-api:Invoke (the stack's policies)
COGNITO = "cognito"  # callers send a token of a Cognito user pool this stack does not own
AUTHORIZATION_MODES = (IAM, COGNITO)

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_USER_POOL_ARN = re.compile(r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+_\w+$")


@dataclass(frozen=True)
class AccessSettings:
    """How callers authenticate, and which AWS principals the API's resource policy admits.

    In `iam` mode the resource policy admits `allowed_accounts` and `allowed_organization`;
    with neither, only the deploying account. In `cognito` mode callers carry no AWS
    identity, so there is no principal to limit and no resource policy.
    """

    authorization: str = IAM
    cognito_user_pool_arn: str | None = None
    cognito_scopes: tuple[str, ...] = ()
    allowed_accounts: tuple[str, ...] = ()
    allowed_organization: str | None = None


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
    access: AccessSettings = field(default_factory=AccessSettings)
    # Logical ids of stateful resources a deploy may replace or delete (scripts/guard_stateful.py).
    allow_replace: tuple[str, ...] = ()

    @property
    def tags(self) -> dict[str, str]:
        """Every taggable resource names its service and environment (cost reports, ownership)."""
        return {"service": SERVICE_NAME, "environment": self.name}

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
        access=AccessSettings(authorization=IAM),
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
        access=AccessSettings(authorization=IAM),
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
    ALLOW_REPLACE_CONTEXT: ("allow_replace", tuple),
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
    settings = replace(
        settings,
        **overrides,
        alarm_email=alarm_email(context, environ),
        access=access_settings(context, settings.access),
    )
    if settings.name == "prod" and "*" in settings.allowed_origins:
        raise ConfigurationError("prod must list its allowed origins; '*' is for dev only")
    return settings


def access_settings(context: ContextReader, default: AccessSettings) -> AccessSettings:
    """The environment's access settings with `-c authorization=...` and friends applied.

    Every value is checked here, at synth time, so a typo fails the synth with one sentence
    instead of deploying an API that admits nobody (or the wrong account).
    """
    mode = str(context("authorization") or default.authorization).strip().lower()
    if mode not in AUTHORIZATION_MODES:
        raise ConfigurationError(
            f"Context 'authorization' must be one of {', '.join(AUTHORIZATION_MODES)}, "
            f"got {mode!r}; an API without authorization is not offered"
        )
    pool_arn = str(context("cognitoUserPoolArn") or default.cognito_user_pool_arn or "").strip()
    scopes = _coerce("cognitoScopes", context("cognitoScopes") or "", tuple) or (
        default.cognito_scopes
    )
    accounts = _coerce("allowedAccounts", context("allowedAccounts") or "", tuple) or (
        default.allowed_accounts
    )
    organization = str(context("allowedOrganization") or default.allowed_organization or "").strip()
    if mode == COGNITO:
        if not _USER_POOL_ARN.match(pool_arn):
            raise ConfigurationError(
                "authorization=cognito needs -c cognitoUserPoolArn=arn:aws:cognito-idp:"
                f"<region>:<account>:userpool/<pool id>, got {pool_arn or 'nothing'!r}"
            )
        if accounts or organization:
            raise ConfigurationError(
                "allowedAccounts and allowedOrganization limit IAM callers; with "
                "authorization=cognito the user pool decides who may call"
            )
    elif pool_arn or scopes:
        raise ConfigurationError(
            "cognitoUserPoolArn and cognitoScopes are read only with -c authorization=cognito"
        )
    for account in accounts:
        if not _ACCOUNT_ID.match(account):
            raise ConfigurationError(f"allowedAccounts: {account!r} is not a 12-digit account id")
    if organization and not _ORGANIZATION_ID.match(organization):
        raise ConfigurationError(
            f"allowedOrganization: {organization!r} is not an organization id (o-...)"
        )
    return AccessSettings(
        authorization=mode,
        cognito_user_pool_arn=pool_arn or None,
        cognito_scopes=scopes,
        allowed_accounts=accounts,
        allowed_organization=organization or None,
    )


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
