"""The users API: its routes on the resources of ``definitions.ROUTES``, behind the HTTP
pipeline. ``handler.lambda_handler`` calls ``UsersApi.handle`` for every event."""

from __future__ import annotations

from typing import Any

from users_api.container import Container
from users_api.definitions import HEALTH_PATH, USER_PATH, USERS_PATH
from users_api.pipeline import Pipeline, Route
from users_api.routes import UsersRoutes
from users_api.routing import Router
from users_api.settings import Settings


class UsersApi:
    def __init__(self, settings: Settings, container: Container) -> None:
        self.settings = settings
        self.container = container
        routes = UsersRoutes(settings, container)
        router: Router[Route] = Router()
        router.add("GET", HEALTH_PATH, routes.health)
        router.add("GET", USERS_PATH, routes.list_users)
        router.add("POST", USERS_PATH, routes.create_user)
        router.add("GET", USER_PATH, routes.get_user)
        router.add("PUT", USER_PATH, routes.update_user)
        router.add("DELETE", USER_PATH, routes.delete_user)
        self.routes = router.routes
        self._pipeline = Pipeline(router, settings.environment, settings.allowed_origins)

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        return self._pipeline.handle(event, context)
