"""Lambda entry point (``handler.lambda_handler``): wiring only; the logic is in ``users_api``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from users_api.api import UsersApi
from users_api.container import Container
from users_api.definitions import ENVIRONMENT_DIMENSION
from users_api.observability import logger, metrics, tracer
from users_api.settings import Settings

if TYPE_CHECKING:  # only a type: the module is not worth importing at every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = Settings.from_env()
metrics.set_default_dimensions(**{ENVIRONMENT_DIMENSION: SETTINGS.environment})
API = UsersApi(SETTINGS, Container(SETTINGS))


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return API.handle(event, context)
