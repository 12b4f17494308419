"""The users API stack, composed top to bottom like the architecture."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.api import UsersApi
from infra.config import ServiceConfig
from infra.data import UsersData
from infra.function import UsersFunction
from infra.monitoring import Monitoring
from infra.names import ALLOW_REPLACE_METADATA, OutputKeys
from infra.settings import EnvironmentSettings


class UsersApiStack(Stack):
    def __init__(self, scope: Construct, *, settings: EnvironmentSettings, **kwargs: Any) -> None:
        super().__init__(scope, settings.stack_name, **kwargs)
        for key, value in settings.tags.items():
            Tags.of(self).add(key, value)
        if settings.allow_replace:
            # Read by scripts/guard_stateful.py from the assembly; the template never sees it.
            self.node.add_metadata(ALLOW_REPLACE_METADATA, list(settings.allow_replace))
        self.data = data = UsersData(self, "Data", settings=settings)
        self.config = config = ServiceConfig(
            self,
            "Config",
            settings=settings,
            table_name=data.table.table_name,
            idempotency_table_name=data.idempotency_table.table_name,
        )
        self.service = service = UsersFunction(
            self,
            "Function",
            settings=settings,
            table=data.table,
            idempotency_table=data.idempotency_table,
            key=data.key,
            config=config,
        )
        self.api = api = UsersApi(self, "Api", settings=settings, function=service.function)
        self.monitoring = monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            function=service.function,
            api=api,
            table=data.table,
            log_group=service.log_group,
        )

        self._outputs(
            {
                OutputKeys.API_URL: api.rest_api.url,
                OutputKeys.REST_API_ID: api.rest_api.rest_api_id,
                OutputKeys.STAGE_NAME: api.stage_name,
                OutputKeys.TABLE_NAME: data.table.table_name,
                OutputKeys.IDEMPOTENCY_TABLE_NAME: data.idempotency_table.table_name,
                OutputKeys.FUNCTION_NAME: service.function.function_name,
                OutputKeys.KEY_ARN: data.key.key_arn,
                OutputKeys.PARAMETER_PATH: config.path,
                OutputKeys.ALARM_TOPIC_ARN: monitoring.topic.topic_arn,
            }
        )
        if policies := api.caller_policies:
            self._outputs(
                {
                    OutputKeys.READ_ONLY_POLICY_ARN: policies.read_only.managed_policy_arn,
                    OutputKeys.READ_WRITE_POLICY_ARN: policies.read_write.managed_policy_arn,
                }
            )

    def _outputs(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            CfnOutput(self, key, key=key, value=value)
