"""Wiring: the AWS clients (created lazily: no network at import), one per process, and the
per-request objects built on them. Tests inject their own factories."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config as BotoConfig

from users_api.config import ConfigLoader
from users_api.deadline import Deadline
from users_api.repository import UserRepository
from users_api.retries import Attempts
from users_api.service import Repository, UsersService
from users_api.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table
    from mypy_boto3_ssm.client import SSMClient

# DynamoDB: no SDK retries (retries.py runs them inside the request's deadline), and an
# attempt never outlasts what the deadline checks for.
DYNAMODB_CONNECT_TIMEOUT = 1.0
DYNAMODB_READ_TIMEOUT = 2.0
DYNAMODB_ATTEMPT_SECONDS = DYNAMODB_CONNECT_TIMEOUT + DYNAMODB_READ_TIMEOUT
DYNAMODB_BOTO_CONFIG = BotoConfig(
    connect_timeout=DYNAMODB_CONNECT_TIMEOUT,
    read_timeout=DYNAMODB_READ_TIMEOUT,
    retries={"total_max_attempts": 1},
)
# Parameter Store is only read (a retry cannot write twice): the SDK may retry once; together
# at most ~4.2 s, which config.FETCH_SECONDS covers.
SSM_BOTO_CONFIG = BotoConfig(
    connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 2, "mode": "standard"}
)

RepositoryFactory = Callable[[str, str, Attempts], Repository]


class Container:
    def __init__(
        self,
        settings: Settings,
        *,
        ssm_client_factory: Callable[[], SSMClient] | None = None,
        dynamodb_factory: Callable[[], DynamoDBServiceResource] | None = None,
        repository_factory: RepositoryFactory | None = None,
        config_clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ssm_client_factory = ssm_client_factory or (
            lambda: boto3.client("ssm", config=SSM_BOTO_CONFIG)
        )
        self._dynamodb_factory = dynamodb_factory or (
            lambda: boto3.resource("dynamodb", config=DYNAMODB_BOTO_CONFIG)
        )
        self._repository_factory = repository_factory or self._dynamodb_repository
        self._dynamodb: DynamoDBServiceResource | None = None
        self._tables: dict[str, Table] = {}
        self._sleep = sleep
        self.config = ConfigLoader(
            settings.config_parameter_path,
            settings.config_ttl_seconds,
            client_factory=lambda: self._ssm_client_factory(),
            clock=config_clock,
        )

    def _table(self, name: str) -> Table:
        """One Table object per name for the process; only the repository is per request."""
        if name not in self._tables:
            if self._dynamodb is None:
                self._dynamodb = self._dynamodb_factory()
            self._tables[name] = self._dynamodb.Table(name)
        return self._tables[name]

    def _dynamodb_repository(
        self, table_name: str, idempotency_table_name: str, attempts: Attempts
    ) -> Repository:
        return UserRepository(
            self._table(table_name), self._table(idempotency_table_name), attempts
        )

    def repository(self, deadline: Deadline) -> Repository:
        """The repository of the tables named in Parameter Store (they may change after the TTL),
        its calls bound to this request's deadline."""
        config = self.config.get(deadline)
        attempts = Attempts(deadline, attempt_seconds=DYNAMODB_ATTEMPT_SECONDS, sleep=self._sleep)
        return self._repository_factory(config.table_name, config.idempotency_table_name, attempts)

    def service(self, deadline: Deadline) -> UsersService:
        return UsersService(self.repository(deadline))
