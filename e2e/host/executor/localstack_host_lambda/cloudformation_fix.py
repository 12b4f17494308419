# mypy: ignore-errors
# (Runs inside LocalStack's own venv; the project's type-check environment has no localstack.)
"""Three fixes to LocalStack 4.14's CloudFormation, loaded with the project's Lambda executor, so
that deploying a release over the one before works as it does on AWS.

1. The engine gives a ``Ref`` the change type of the resource it names (its own code marks the
   line "TODO: this should check the replacement flag for a resource update"): a ``Ref`` to a
   REST API whose own properties changed (a resource policy, tags) counts as a new value, so every
   stage, resource and method holding it in a create-only ``RestApiId`` is replaced. Replacing
   the stage creates one of the same name first, which fails ("Stage already exists"). On AWS a
   ``Ref`` changes only when its resource is replaced.
2. ``AWS::ApiGateway::Stage`` has no update: the stage stays on the API's previous deployment,
   and deleting that deployment afterwards deletes the stage with it, leaving the API answering
   nothing. On AWS the update points the stage at the new deployment.
3. An ``AWS::SNS::Topic`` whose template names no ``TopicName`` is recreated on every update (the
   generated name of the live topic differs from the template's none), under a new ARN. On AWS
   the topic stays, with its subscriptions.
"""

from localstack.runtime import hooks


@hooks.on_infra_start()
def deploys_over_a_release_as_on_aws():
    from localstack.services.apigateway.resource_providers.aws_apigateway_stage import (
        ApiGatewayStageProvider,
    )
    from localstack.services.cloudformation.engine.v2 import change_set_model as model
    from localstack.services.sns.resource_providers.aws_sns_topic import SNSTopicProvider

    if getattr(model.ChangeSetModel, "_project_fixes", False):
        return
    model.ChangeSetModel._project_fixes = True
    model.ChangeSetModel._resolve_intrinsic_function_ref = _replacement_aware(
        model, model.ChangeSetModel._resolve_intrinsic_function_ref
    )
    ApiGatewayStageProvider.update = _update_stage
    SNSTopicProvider.update = _keeping_the_generated_name(SNSTopicProvider.update)


def _replacement_aware(model, resolve_ref):
    def resolve(self, arguments):
        change_type = resolve_ref(self, arguments)
        if (
            change_type != model.ChangeType.MODIFIED
            or not isinstance(arguments, model.TerminalValue)
            or arguments.change_type != model.ChangeType.UNCHANGED
        ):
            return change_type
        name = arguments.value
        if isinstance(
            self._retrieve_condition_if_exists(condition_name=name), model.NodeCondition
        ) or isinstance(
            self._retrieve_parameter_if_exists(parameter_name=name), model.NodeParameter
        ):
            return change_type
        resource = self._retrieve_or_visit_resource(resource_name=name)
        return change_type if resource.requires_replacement else model.ChangeType.UNCHANGED

    return resolve


# Stage properties an update applies, and their paths in UpdateStage's patch operations.
_STAGE_PATCHES = {
    "DeploymentId": "/deploymentId",
    "Description": "/description",
    "TracingEnabled": "/tracingEnabled",
}


def _update_stage(self, request):
    from localstack.services.cloudformation.resource_provider import (
        OperationStatus,
        ProgressEvent,
    )

    desired, previous = request.desired_state, request.previous_state or {}
    operations = [
        {
            "op": "replace",
            "path": path,
            "value": str(desired[name]).lower()
            if isinstance(desired[name], bool)
            else str(desired[name]),
        }
        for name, path in _STAGE_PATCHES.items()
        if name in desired and desired.get(name) != previous.get(name)
    ]
    if operations:
        request.aws_client_factory.apigateway.update_stage(
            restApiId=desired["RestApiId"],
            stageName=desired.get("StageName") or previous["StageName"],
            patchOperations=operations,
        )
    return ProgressEvent(
        status=OperationStatus.SUCCESS,
        resource_model={**previous, **desired},
        custom_context=request.custom_context,
    )


def _keeping_the_generated_name(update_topic):
    def update(self, request):
        previous = request.previous_state or {}
        if not request.desired_state.get("TopicName") and previous.get("TopicName"):
            request.desired_state["TopicName"] = previous["TopicName"]
        return update_topic(self, request)

    return update
