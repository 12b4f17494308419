"""Runtime configuration from SSM Parameter Store.

The String parameters under ``CONFIG_PARAMETER_PATH`` are read in ONE batched
``ssm:GetParameters`` call through Powertools' ``SSMProvider.get_parameters_by_name`` (no
decryption, so Powertools never falls back to ``ssm:GetParameter``), cached by Powertools for
``CONFIG_TTL_SECONDS``. A changed value is therefore picked up after the TTL without a redeploy.

Powertools' cache forgets values when they expire, so the loader keeps its own last-known-good
copy: when Parameter Store cannot be read it keeps serving that copy (and waits a short backoff
before asking again); with nothing fetched yet, it raises ``DependencyUnavailable`` (503).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.utilities.parameters import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from users_api.deadline import Deadline
from users_api.definitions import (
    PARAMETER_DEFAULT_PAGE_SIZE,
    PARAMETER_IDEMPOTENCY_TABLE_NAME,
    PARAMETER_MAX_PAGE_SIZE,
    PARAMETER_NAMES,
    PARAMETER_TABLE_NAME,
)
from users_api.errors import DependencyUnavailable
from users_api.observability import logger

DEFAULT_PAGE_SIZE_VALUE = 20
MAX_PAGE_SIZE_VALUE = 100
PAGE_SIZE_CEILING = 1000
FAILURE_BACKOFF_SECONDS = 5.0
# The longest one read of Parameter Store may take, SDK retries included (clients.py).
FETCH_SECONDS = 4.5


@dataclass(frozen=True)
class RuntimeConfig:
    table_name: str
    idempotency_table_name: str
    default_page_size: int
    max_page_size: int


class ParameterProvider(Protocol):
    """The part of Powertools' ``SSMProvider`` the loader uses (a fake can stand in for tests)."""

    def get_parameters_by_name(
        self,
        parameters: dict[str, dict[str, Any]],
        transform: Any = None,
        decrypt: bool | None = None,
        max_age: int | None = None,
        raise_on_error: bool = True,
    ) -> Any: ...

    def clear_cache(self) -> None: ...


class _ConfigMissing(Exception):
    pass


class ConfigLoader:
    def __init__(
        self,
        parameter_path: str,
        ttl_seconds: int,
        provider_factory: Callable[[], ParameterProvider],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = parameter_path.rstrip("/")
        self._ttl = ttl_seconds
        self._provider_factory = provider_factory
        self._provider: ParameterProvider | None = None
        self._clock = clock
        self._last_good: RuntimeConfig | None = None
        self._expires_at = float("-inf")
        self._retry_at = float("-inf")

    def parameter_name(self, short_name: str) -> str:
        return f"{self._path}/{short_name}"

    @property
    def last_known_good(self) -> RuntimeConfig | None:
        return self._last_good

    def get(self, deadline: Deadline | None = None) -> RuntimeConfig:
        now = self._clock()
        if self._last_good is not None and now < self._retry_at:
            return self._last_good  # Parameter Store failed a moment ago: don't hammer it
        if deadline is not None and not deadline.allows(FETCH_SECONDS):
            if self._last_good is not None:
                return self._last_good  # no time left to refresh: the cached copy answers
            raise DependencyUnavailable()
        try:
            provider = self._get_provider()
            if now >= self._expires_at:
                provider.clear_cache()  # TTL elapsed on our clock: make Powertools re-read too
            values = provider.get_parameters_by_name(
                {self.parameter_name(name): {} for name in PARAMETER_NAMES},
                max_age=self._ttl,
                raise_on_error=False,
            )
            config = self._parse(values)
        except (ClientError, BotoCoreError, GetParameterError, _ConfigMissing) as exc:
            return self._on_failure(now, exc)
        if now >= self._expires_at:
            self._expires_at = now + self._ttl
        self._last_good = config
        return config

    def _get_provider(self) -> ParameterProvider:
        if self._provider is None:
            self._provider = self._provider_factory()
        return self._provider

    def _on_failure(self, now: float, exc: Exception) -> RuntimeConfig:
        error_type = type(exc).__name__
        if self._last_good is None:
            logger.error(
                "Configuration unavailable and nothing cached", extra={"error_type": error_type}
            )
            raise DependencyUnavailable() from exc
        logger.warning(
            "Configuration refresh failed; serving last known good",
            extra={"error_type": error_type},
        )
        self._retry_at = now + min(float(self._ttl), FAILURE_BACKOFF_SECONDS)
        return self._last_good

    def _parse(self, values: dict[str, Any]) -> RuntimeConfig:
        table_name = self._required(values, PARAMETER_TABLE_NAME)
        idempotency_table_name = self._required(values, PARAMETER_IDEMPOTENCY_TABLE_NAME)
        maximum = _page_size(
            values.get(self.parameter_name(PARAMETER_MAX_PAGE_SIZE)),
            PARAMETER_MAX_PAGE_SIZE,
            MAX_PAGE_SIZE_VALUE,
        )
        default = _page_size(
            values.get(self.parameter_name(PARAMETER_DEFAULT_PAGE_SIZE)),
            PARAMETER_DEFAULT_PAGE_SIZE,
            DEFAULT_PAGE_SIZE_VALUE,
        )
        return RuntimeConfig(
            table_name=table_name,
            idempotency_table_name=idempotency_table_name,
            default_page_size=min(default, maximum),
            max_page_size=maximum,
        )

    def _required(self, values: dict[str, Any], name: str) -> str:
        value = values.get(self.parameter_name(name))
        if not isinstance(value, str) or not value.strip():
            raise _ConfigMissing(name)
        return value.strip()


def _page_size(raw: Any, name: str, fallback: int) -> int:
    if raw is None:
        return fallback
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= PAGE_SIZE_CEILING:
        logger.warning("Ignoring invalid page size parameter", extra={"parameter": name})
        return fallback
    return value
