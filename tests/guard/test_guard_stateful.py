"""The stateful guard's decisions, on change sets in DescribeChangeSet's shape and on templates.

No network: change sets are JSON files (tests/guard/change_sets), CloudFormation for the
reading and deleting is a small fake, and the template method runs against moto.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.names import ALLOW_REPLACE_METADATA
from infra.settings import load_settings
from infra.stack import UsersApiStack
from scripts import guard_stateful as guard
from tests.fake_aws import use_fake_credentials
from tests.infra.conftest import NO_BUNDLING, synth

CHANGE_SETS = Path(__file__).resolve().parent / "change_sets"
STACK = "UsersApi-dev"
REGION = "eu-west-1"


def recorded(name: str) -> dict[str, Any]:
    return dict(json.loads((CHANGE_SETS / f"{name}.json").read_text()))


def decide(name: str, allowed: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    findings = guard.change_set_findings(recorded(name)["Changes"])
    return guard.verdict(STACK, findings, allowed)


# --- change sets ------------------------------------------------------------------------------


def test_a_renamed_table_is_named_as_deleted() -> None:
    failures, notes = decide("renamed_users_table")
    assert failures == [
        "UsersApi-dev: AWS::DynamoDB::Table DataUsersTableA308CF66 would be deleted (it is no "
        "longer in the template: a renamed or moved construct gets a new logical id; policy "
        "action Delete); if that is intended, deploy with -c allowReplace=DataUsersTableA308CF66."
    ]
    assert notes == []


def test_a_changed_key_schema_is_named_as_a_replacement() -> None:
    failures, _ = decide("changed_key_schema")
    assert failures == [
        "UsersApi-dev: AWS::DynamoDB::Table DataUsersTableA308CF66 would be replaced (a change "
        "to KeySchema requires it; policy action ReplaceAndDelete); if that is intended, "
        "deploy with -c allowReplace=DataUsersTableA308CF66."
    ]


def test_in_place_updates_and_references_to_resources_updated_in_place_pass() -> None:
    # Given a TTL change, new code, a new API policy and the references that follow them
    failures, notes = decide("in_place_updates")
    # Then nothing stateful is replaced: a reference to something updated in place keeps its value
    assert (failures, notes) == ([], [])


def test_a_replaced_rest_api_renames_the_ensured_group_and_may_replace_the_topic() -> None:
    failures, _ = decide("rest_api_replaced")
    assert failures == [
        "UsersApi-dev: Custom::EnsuredLogGroup ApiExecutionLogGroupC196A6BC would be replaced "
        "(a new LogGroupName is a new group); if that is intended, deploy with "
        "-c allowReplace=ApiExecutionLogGroupC196A6BC.",
        "UsersApi-dev: AWS::SNS::Topic MonitoringAlarmTopicAF62D4F1 would be replaced "
        "(a change to TopicName may require it); if that is intended, deploy with "
        "-c allowReplace=MonitoringAlarmTopicAF62D4F1.",
    ]


def test_an_allowed_replacement_passes_with_a_note() -> None:
    # Given the upgrade that swaps the owned execution log group for the ensured one
    failures, notes = decide("upgrade_from_owned_execution_log_group")
    assert [f.split(" would be ")[0] for f in failures] == [
        "UsersApi-dev: AWS::Logs::LogGroup ApiExecutionLogsB326CF6B"
    ]
    # When its old logical id is allowed
    failures, notes = decide(
        "upgrade_from_owned_execution_log_group", allowed=("ApiExecutionLogsB326CF6B",)
    )
    # Then the guard passes and says what it allowed
    assert failures == []
    assert notes == [
        "UsersApi-dev: AWS::Logs::LogGroup ApiExecutionLogsB326CF6B will be replaced "
        "(a change to LogGroupName requires it; policy action ReplaceAndRetain): "
        "allowed by allowReplace."
    ]


def test_an_allowance_that_matches_nothing_is_reported() -> None:
    failures, notes = decide("in_place_updates", allowed=("DataUsersTableA308CF66",))
    assert failures == []
    assert notes == [
        "UsersApi-dev: allowReplace names DataUsersTableA308CF66, which this deploy neither "
        "replaces nor deletes."
    ]


def test_an_allowance_covers_only_the_resource_it_names() -> None:
    failures, _ = decide("rest_api_replaced", allowed=("ApiExecutionLogGroupC196A6BC",))
    assert [f.split(" would be ")[0] for f in failures] == [
        "UsersApi-dev: AWS::SNS::Topic MonitoringAlarmTopicAF62D4F1"
    ]


# --- reading and deleting the change set -------------------------------------------------------


class FakeCloudFormation:
    """Answers DescribeChangeSet with the given pages in turn; records DeleteChangeSet."""

    def __init__(self, *answers: dict[str, Any] | ClientError) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str]] = []

    def describe_change_set(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, ClientError):
            raise answer
        return answer

    def delete_change_set(self, *, StackName: str, ChangeSetName: str) -> None:
        self.deleted.append((StackName, ChangeSetName))


def not_found() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ChangeSetNotFound", "Message": "ChangeSet [x] does not exist"}},
        "DescribeChangeSet",
    )


def test_the_change_set_is_waited_for_and_read_across_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    body = recorded("rest_api_replaced")
    first, second = copy.deepcopy(body), copy.deepcopy(body)
    first["Changes"], first["NextToken"] = body["Changes"][:1], "page-2"
    second["Changes"] = body["Changes"][1:]
    fake = FakeCloudFormation({"Status": "CREATE_IN_PROGRESS"}, first, second)
    changes = guard.read_change_set(fake, STACK, "users-api-guard")
    assert changes == body["Changes"]
    assert fake.requests[-1] == {
        "StackName": STACK,
        "ChangeSetName": "users-api-guard",
        "NextToken": "page-2",
    }


def test_a_change_set_without_changes_reads_as_empty() -> None:
    assert guard.read_change_set(FakeCloudFormation(recorded("no_changes")), STACK, "x") == []


def test_no_change_set_reads_as_nothing_to_deploy() -> None:
    assert guard.read_change_set(FakeCloudFormation(not_found()), STACK, "x") is None


def test_a_failed_change_set_is_one_sentence() -> None:
    failed = {"Status": "FAILED", "StatusReason": "Template format error: Unresolved resource"}
    with pytest.raises(guard.GuardError) as raised:
        guard.read_change_set(FakeCloudFormation(failed), STACK, "users-api-guard")
    assert str(raised.value) == (
        "Change set users-api-guard of UsersApi-dev failed: "
        "Template format error: Unresolved resource"
    )


# --- the template method, end to end over moto -------------------------------------------------


@pytest.fixture(scope="module")
def dev_template() -> dict[str, Any]:
    _, template = synth({"environment": "dev"})
    return dict(template.to_json())


def write_assembly(directory: Path, template: dict[str, Any], allowed: list[str]) -> Path:
    """A cloud assembly as `cdk synth` writes it, allowance in the stack's metadata file."""
    (directory / f"{STACK}.template.json").write_text(json.dumps(template))
    (directory / f"{STACK}.metadata.json").write_text(
        json.dumps({f"/{STACK}": [{"type": ALLOW_REPLACE_METADATA, "data": allowed}]})
    )
    manifest = {
        "artifacts": {
            STACK: {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": f"{STACK}.template.json"},
                "additionalMetadataFile": f"{STACK}.metadata.json",
            }
        }
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Any:
    use_fake_credentials(monkeypatch, REGION)
    with mock_aws():
        # The deployed stack: just the users table, as CloudFormation holds it
        table = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "UserId", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "UserId", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        }
        template = {"Resources": {"DataUsersTableA308CF66": table}}
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        # Inside another suite's session-long moto, stacks outlive a test: start from none.
        for summary in cloudformation.list_stacks()["StackSummaries"]:
            cloudformation.delete_stack(StackName=summary["StackId"])
        cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
        yield template


def run(app: Path, *extra: str) -> int:
    return guard.main(["--stack", STACK, "--app", str(app), "--method", "template", *extra])


def test_template_method_passes_an_unchanged_table(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(write_assembly(tmp_path, deployed, [])) == 0
    assert "no stateful resource would be replaced or deleted (template)" in capsys.readouterr().out


def test_template_method_names_a_renamed_table_and_honours_the_allowance(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a synthesized template where the table has another logical id
    renamed = {"Resources": {"DataUsers839EEF6E": deployed["Resources"]["DataUsersTableA308CF66"]}}
    # When the guard compares it with the deployed one
    status = run(write_assembly(tmp_path, renamed, []))
    # Then it fails naming the old table
    assert status == 1
    assert capsys.readouterr().err == (
        "UsersApi-dev: AWS::DynamoDB::Table DataUsersTableA308CF66 would be deleted (it is no "
        "longer in the template: a renamed or moved construct gets a new logical id); if that "
        "is intended, deploy with -c allowReplace=DataUsersTableA308CF66.\n"
    )
    # And it passes once the synth allowed exactly that table
    assert run(write_assembly(tmp_path, renamed, ["DataUsersTableA308CF66"])) == 0


def test_template_method_names_a_changed_key(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = copy.deepcopy(deployed)
    table = changed["Resources"]["DataUsersTableA308CF66"]["Properties"]
    table["KeySchema"][0]["AttributeName"] = "Id"
    assert run(write_assembly(tmp_path, changed, []), "--allow", "SomethingElse") == 1
    assert "DataUsersTableA308CF66 would be replaced (a change to KeySchema requires it)" in (
        capsys.readouterr().err
    )


def test_template_method_passes_a_stack_not_deployed_yet(
    deployed: dict[str, Any], tmp_path: Path
) -> None:
    app = write_assembly(tmp_path, deployed, [])
    assert guard.main(["--stack", "UsersApi-prod", "--app", str(app), "--method", "template"]) == 2
    manifest = json.loads((app / "manifest.json").read_text())
    manifest["artifacts"]["UsersApi-prod"] = manifest["artifacts"].pop(STACK)
    (app / "manifest.json").write_text(json.dumps(manifest))
    assert guard.main(["--stack", "UsersApi-prod", "--app", str(app), "--method", "template"]) == 0


def test_the_real_templates_compare_clean_with_themselves(dev_template: dict[str, Any]) -> None:
    assert guard.template_findings(dev_template, dev_template) == []


def test_the_real_template_without_the_users_table_is_caught(
    dev_template: dict[str, Any],
) -> None:
    without = copy.deepcopy(dev_template)
    del without["Resources"]["DataUsersTableA308CF66"]
    (finding,) = guard.template_findings(dev_template, without)
    assert (finding.logical_id, finding.what) == ("DataUsersTableA308CF66", "deleted")


# --- the change-set method, end to end over moto -----------------------------------------------


def test_change_set_method_reads_then_deletes_the_change_set(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the change set `cdk deploy --no-execute` left for the guard (a new table beside)
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    grown = copy.deepcopy(deployed)
    grown["Resources"]["Other"] = deployed["Resources"]["DataUsersTableA308CF66"]
    cloudformation.create_change_set(
        StackName=STACK, ChangeSetName="users-api-guard", TemplateBody=json.dumps(grown)
    )
    app = write_assembly(tmp_path, grown, [])
    # When the guard reads it
    status = guard.main(["--stack", STACK, "--app", str(app), "--no-assume-role"])
    # Then it passes and leaves no change set behind for anyone to execute
    assert status == 0
    assert "no stateful resource would be replaced or deleted (change-set)" in (
        capsys.readouterr().out
    )
    assert cloudformation.list_change_sets(StackName=STACK)["Summaries"] == []


def test_change_set_method_without_a_change_set_has_nothing_to_deploy(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_assembly(tmp_path, deployed, [])
    assert guard.main(["--stack", STACK, "--app", str(app), "--no-assume-role"]) == 0
    assert "UsersApi-dev: no change set users-api-guard: nothing to deploy." in (
        capsys.readouterr().out
    )


def test_allow_replace_context_reaches_the_guard_through_the_assembly(tmp_path: Path) -> None:
    # Given a synth with -c allowReplace naming two logical ids
    app = App(
        outdir=str(tmp_path),
        context={
            **NO_BUNDLING,
            "environment": "dev",
            "allowReplace": "FirstAllowed, SecondAllowed",
        },
    )
    stack = UsersApiStack(app, settings=load_settings(app.node.try_get_context, environ={}))
    app.synth()
    # When the guard reads the assembly
    assembly = guard.read_assembly(tmp_path, stack.stack_name)
    # Then it sees exactly those, and the template does not carry them
    assert assembly.allowed == ("FirstAllowed", "SecondAllowed")
    assert "FirstAllowed" not in json.dumps(assembly.template)
