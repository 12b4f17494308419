"""What a deploy into LocalStack produced: endpoints, outputs and the template it used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.names import HANDLER, OutputKeys


def execute_api_url(endpoint: str, outputs: dict[str, str]) -> str:
    """The stage's URL through LocalStack's own endpoint, from the stack's outputs:
    `<id>.execute-api.localhost.localstack.cloud` does not resolve offline."""
    rest_api_id = outputs.get(OutputKeys.REST_API_ID)
    stage = outputs.get(OutputKeys.STAGE_NAME)
    return f"{endpoint}/_aws/execute-api/{rest_api_id}/{stage}"


@dataclass(frozen=True)
class Deployment:
    endpoint: str
    stack_name: str
    outputs: dict[str, str]
    template: dict[str, Any]
    timings: dict[str, float]

    @property
    def api_url(self) -> str:
        return execute_api_url(self.endpoint, self.outputs)

    @property
    def function_name(self) -> str:
        return self.outputs[OutputKeys.FUNCTION_NAME]

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    @property
    def users_function(self) -> dict[str, Any]:
        """The users function's template resource (the other function ensures a log group)."""
        (function,) = [
            resource
            for resource in self.resources_of_type("AWS::Lambda::Function").values()
            if resource["Properties"]["Handler"] == HANDLER
        ]
        return function

    @property
    def declared_reserved_concurrency(self) -> int:
        return int(self.users_function["Properties"]["ReservedConcurrentExecutions"])
