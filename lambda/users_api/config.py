"""Runtime configuration from SSM Parameter Store.

The String parameters under ``CONFIG_PARAMETER_PATH`` are read in ONE batched
``ssm:GetParameters`` call (no decryption: they hold no secrets) and cached for
``CONFIG_TTL_SECONDS``, so a changed value is picked up after the TTL without a redeploy. The
call is boto3's own: Powertools' parameter providers would add only a second cache, and their
import (every provider: AppConfig, DynamoDB, Secrets Manager) costs every cold start.

The loader keeps a last-known-good copy: when Parameter Store cannot be read it keeps serving
that copy (and waits a short backoff before asking again); with nothing fetched yet, it raises
``DependencyUnavailable`` (503).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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
# The longest one read of Parameter Store may take, SDK retries included (container.py).
FETCH_SECONDS = 4.5


@dataclass(frozen=True)
class RuntimeConfig:
    table_name: str
    idempotency_table_name: str
    default_page_size: int
    max_page_size: int


class ParameterStore(Protocol):
    """The one call of the SSM client the loader makes (a fake can stand in for tests)."""

    def get_parameters(self, *, Names: list[str]) -> Any: ...


class _ConfigMissing(Exception):
    pass


class ConfigLoader:
    def __init__(
        self,
        parameter_path: str,
        ttl_seconds: int,
        client_factory: Callable[[], ParameterStore],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = parameter_path.rstrip("/")
        self._ttl = ttl_seconds
        self._client_factory = client_factory
        self._client: ParameterStore | None = None
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
        if self._last_good is not None and now < self._expires_at:
            return self._last_good  # fresh enough
        if self._last_good is not None and now < self._retry_at:
            return self._last_good  # Parameter Store failed a moment ago: don't hammer it
        if deadline is not None and not deadline.allows(FETCH_SECONDS):
            if self._last_good is not None:
                return self._last_good  # no time left to refresh: the cached copy answers
            raise DependencyUnavailable()
        try:
            response = self._get_client().get_parameters(
                Names=[self.parameter_name(name) for name in PARAMETER_NAMES]
            )
            values = {p["Name"]: p.get("Value") for p in response.get("Parameters", [])}
            config = self._parse(values)
        except (ClientError, BotoCoreError, _ConfigMissing) as exc:
            return self._on_failure(now, exc)
        self._expires_at = now + self._ttl
        self._last_good = config
        return config

    def _get_client(self) -> ParameterStore:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

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
