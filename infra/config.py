"""Run-time configuration in SSM Parameter Store, read by the function at run time."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.settings import EnvironmentSettings
from users_api import definitions


class ServiceConfig(Construct):
    """The parameters under `/<environment>/users-api/` that the contract names."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        table_name: str,
        idempotency_table_name: str,
    ):
        super().__init__(scope, construct_id)
        self.path = settings.parameter_path
        values = {
            definitions.PARAMETER_TABLE_NAME: (table_name, "Name of the users table"),
            definitions.PARAMETER_IDEMPOTENCY_TABLE_NAME: (
                idempotency_table_name,
                "Name of the table of idempotency records (POST /users with Idempotency-Key)",
            ),
            definitions.PARAMETER_DEFAULT_PAGE_SIZE: (
                str(settings.default_page_size),
                "Page size of GET /users when the client gives no limit",
            ),
            definitions.PARAMETER_MAX_PAGE_SIZE: (
                str(settings.max_page_size),
                "Largest limit a client may ask GET /users for",
            ),
        }
        self.names = [f"{self.path}/{leaf}" for leaf in values]
        self.parameters = [
            self._parameter(leaf, value, description)
            for leaf, (value, description) in values.items()
        ]

    @property
    def parameter_arns(self) -> list[str]:
        # Built from the literal names (not the parameters' Ref) so that the policy and its
        # tests read as the exact resources.
        return [
            Stack.of(self).format_arn(
                service="ssm",
                resource="parameter",
                resource_name=name.lstrip("/"),
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for name in self.names
        ]

    def _parameter(self, leaf: str, value: str, description: str) -> ssm.StringParameter:
        return ssm.StringParameter(
            self,
            leaf[0].upper() + leaf[1:],
            parameter_name=f"{self.path}/{leaf}",
            string_value=value,
            description=description,
            tier=ssm.ParameterTier.STANDARD,
        )
