"""The users table and the idempotency records' table, both encrypted with a customer-managed
key that the stack owns."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.settings import EnvironmentSettings
from users_api.definitions import EXPIRES_AT, IDEMPOTENCY_KEY, USER_KEY


class UsersData(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings):
        super().__init__(scope, construct_id)
        self.key = self._encryption_key(settings)
        self.table = self._users_table(settings, self.key)
        # A table of its own: the users table then holds only users, so every page of a scan
        # is made of users (never empty while a nextToken is given).
        self.idempotency_table = self._idempotency_table(settings, self.key)

    def _encryption_key(self, settings: EnvironmentSettings) -> kms.Key:
        return kms.Key(
            self,
            "TableKey",
            description=f"Encrypts the {settings.name} users table",
            enable_key_rotation=True,
            removal_policy=settings.removal_policy,
        )

    def _users_table(self, settings: EnvironmentSettings, key: kms.IKey) -> dynamodb.Table:
        # TTL sweeps the idempotency records an earlier release kept here (users have no
        # expiresAt); dropping it would leave those records for ever.
        return self._table("UsersTable", USER_KEY, settings, key, ttl=EXPIRES_AT)

    def _idempotency_table(self, settings: EnvironmentSettings, key: kms.IKey) -> dynamodb.Table:
        return self._table("IdempotencyTable", IDEMPOTENCY_KEY, settings, key, ttl=EXPIRES_AT)

    def _table(
        self,
        construct_id: str,
        partition_key: str,
        settings: EnvironmentSettings,
        key: kms.IKey,
        ttl: str | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(
                name=partition_key, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=ttl,
            deletion_protection=settings.retain_data,
            removal_policy=settings.removal_policy,
        )
