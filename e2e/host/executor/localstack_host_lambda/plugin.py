# mypy: ignore-errors
# (Runs inside LocalStack's own venv; the project's type-check environment has no localstack.)
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "host"

    def load(self, *args, **kwargs):
        # Imported lazily, like LocalStack's docker plugin, so plugin discovery stays cheap.
        from localstack_host_lambda.executor import HostRuntimeExecutor

        return HostRuntimeExecutor
