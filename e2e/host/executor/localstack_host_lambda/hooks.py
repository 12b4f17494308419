# mypy: ignore-errors
# (Runs inside LocalStack's own venv; the project's type-check environment has no localstack.)
"""LocalStack hooks of this distribution (plux entry points, see pyproject.toml)."""

from localstack.runtime import hooks


@hooks.on_infra_start()
def record_assumed_role_calls():
    # Imported lazily, so plugin discovery stays cheap.
    from localstack_host_lambda.calls import register

    register()
