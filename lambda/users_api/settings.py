"""Process-wide settings, read from the environment variables the stack sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_CONFIG_TTL_SECONDS = 60


@dataclass(frozen=True)
class Settings:
    environment: str
    config_parameter_path: str
    config_ttl_seconds: int
    allowed_origins: tuple[str, ...]
    app_version: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        path = env.get("CONFIG_PARAMETER_PATH", "").strip().rstrip("/")
        environment = env.get("ENVIRONMENT", "dev").strip() or "dev"
        if not path:
            path = f"/{environment}/users-api"
        origins = tuple(o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip())
        return cls(
            environment=environment,
            config_parameter_path=path,
            config_ttl_seconds=_non_negative_int(
                env.get("CONFIG_TTL_SECONDS"), DEFAULT_CONFIG_TTL_SECONDS
            ),
            # Unset: no browser origin is allowed (safe default); "*" must be explicit.
            allowed_origins=origins,
            app_version=env.get("APP_VERSION", "").strip() or "unknown",
        )


def _non_negative_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 0 else default
