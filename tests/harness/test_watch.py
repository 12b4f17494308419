"""`make watch`: the code folder kept in sync, the function switched to it and back, and the
host executor's reload after a quiet period (no LocalStack needed)."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from e2e.harness import watch
from e2e.harness.deployment import Deployment
from e2e.harness.modes import HarnessError
from e2e.harness.paths import REPO_ROOT
from infra.names import HANDLER

INIT_PY = REPO_ROOT / "e2e/host/executor/localstack_host_lambda/init.py"


def function_template(bucket: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "Handler": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": HANDLER,
                    "Code": {"S3Bucket": bucket, "S3Key": "abc123.zip"},
                },
                "Metadata": {"aws:asset:path": "asset.abc123"},
            }
        }
    }


def deployment(bucket: Any = "cdk-assets-000000000000-us-east-1") -> Deployment:
    outputs = {"FunctionName": "users-api-dev-1234"}
    return Deployment("http://127.0.0.1:1", "UsersApi-dev", outputs, function_template(bucket), {})


class FakeLambda:
    def __init__(self, location: str = "http://s3/code.zip") -> None:
        self.updates: list[dict[str, str]] = []
        self.waited: list[str] = []
        self.location = location

    def get_function(self, FunctionName: str) -> dict[str, Any]:
        return {"Code": {"RepositoryType": "S3", "Location": self.location}}

    def update_function_code(self, **kwargs: str) -> None:
        self.updates.append(kwargs)

    def get_waiter(self, name: str) -> Any:
        fake = self

        class Waiter:
            def wait(self, FunctionName: str) -> None:
                fake.waited.append(f"{name}:{FunctionName}")

        return Waiter()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A source folder, a cdk.out with the function's bundle, and the watch's code folder."""
    source = tmp_path / "lambda"
    (source / "users_api").mkdir(parents=True)
    (source / "handler.py").write_text("VERSION = 1\n")
    (source / "users_api" / "service.py").write_text("RULES = 1\n")
    (source / "requirements.txt").write_text("powertools\n")
    (source / "users_api" / "__pycache__").mkdir()
    (source / "users_api" / "__pycache__" / "service.cpython-313.pyc").write_bytes(b"\0")
    bundle = tmp_path / "cdk.out" / "asset.abc123"
    (bundle / "aws_lambda_powertools").mkdir(parents=True)
    (bundle / "aws_lambda_powertools" / "__init__.py").write_text("")
    (bundle / "handler.py").write_text("VERSION = 0\n")
    return source, tmp_path / "cdk.out", tmp_path / "watch"


def watcher_on(folders: tuple[Path, Path, Path], bucket: Any = "b") -> watch.Watcher:
    source, cloud_assembly, code_dir = folders
    return watch.Watcher(deployment(bucket), cloud_assembly, code_dir, source, log=lambda _: None)


def test_start_lays_out_dependencies_and_code_then_points_the_function_at_them(
    folders: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeLambda()
    monkeypatch.setattr(watch, "aws_client", lambda service, endpoint: client)
    watcher = watcher_on(folders)
    watcher.start()
    code_dir = folders[2]
    assert (code_dir / "aws_lambda_powertools" / "__init__.py").is_file()  # from the bundle
    assert (code_dir / "handler.py").read_text() == "VERSION = 1\n"  # the source wins
    assert (code_dir / "users_api" / "service.py").is_file()
    assert not (code_dir / "requirements.txt").exists()
    assert not (code_dir / "users_api" / "__pycache__").exists()
    assert client.updates == [
        {"FunctionName": "users-api-dev-1234", "S3Bucket": "hot-reload", "S3Key": str(code_dir)}
    ]
    assert client.waited == ["function_updated_v2:users-api-dev-1234"]


def test_sync_copies_edits_and_removals_and_ignores_touches(
    folders: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "aws_client", lambda service, endpoint: FakeLambda())
    source, _, code_dir = folders
    watcher = watcher_on(folders)
    watcher.start()
    # When a file is edited, one is added and one removed
    (source / "users_api" / "service.py").write_text("RULES = 2\n")
    (source / "users_api" / "pagination.py").write_text("PAGE = 20\n")
    (source / "handler.py").unlink()
    changed = watcher.sync()
    # Then the code folder follows
    assert sorted(map(str, changed)) == [
        "handler.py",
        "users_api/pagination.py",
        "users_api/service.py",
    ]
    assert (code_dir / "users_api" / "service.py").read_text() == "RULES = 2\n"
    assert (code_dir / "users_api" / "pagination.py").read_text() == "PAGE = 20\n"
    assert not (code_dir / "handler.py").exists()
    # And a save without a change copies nothing (no needless reload)
    (source / "users_api" / "service.py").write_text("RULES = 2\n")
    assert watcher.sync() == []


def test_an_edited_module_loses_the_bundles_bytecode_which_python_never_checks(
    folders: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the bundle ships unchecked-hash bytecode for the handler (as for cold starts)
    monkeypatch.setattr(watch, "aws_client", lambda service, endpoint: FakeLambda())
    source, cloud_assembly, code_dir = folders
    cached = cloud_assembly / "asset.abc123" / "__pycache__" / "handler.cpython-313.pyc"
    cached.parent.mkdir()
    cached.write_bytes(b"old code")
    kept = cloud_assembly / "asset.abc123" / "__pycache__" / "other.cpython-313.pyc"
    kept.write_bytes(b"a dependency")
    watcher = watcher_on(folders)
    watcher.start()

    # When the handler is edited and synced
    (source / "handler.py").write_text("VERSION = 2\n")
    watcher.sync()

    # Then its stale bytecode is gone (Python compiles the edit); other bytecode stays
    assert not (code_dir / "__pycache__" / "handler.cpython-313.pyc").exists()
    assert (code_dir / "__pycache__" / "other.cpython-313.pyc").is_file()


def test_restore_gives_the_function_its_deployed_asset_back(
    folders: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeLambda()
    monkeypatch.setattr(watch, "aws_client", lambda service, endpoint: client)
    substituted = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    watcher_on(folders, bucket=substituted).restore()
    assert client.updates == [
        {
            "FunctionName": "users-api-dev-1234",
            "S3Bucket": "cdk-hnb659fds-assets-000000000000-us-east-1",
            "S3Key": "abc123.zip",
        }
    ]


def test_a_function_left_on_the_watch_folder_gets_its_deployed_code_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    left = FakeLambda(location="file:///repo/.localstack/local/watch")
    monkeypatch.setattr(watch, "aws_client", lambda service, endpoint: left)
    assert watch.end_hot_reloading(deployment()) is True
    assert left.updates == [
        {"FunctionName": "users-api-dev-1234", "S3Bucket": "cdk-assets-000000000000-us-east-1",
         "S3Key": "abc123.zip"}
    ]  # fmt: skip
    deployed = FakeLambda()
    monkeypatch.setattr(watch, "aws_client", lambda service, endpoint: deployed)
    assert watch.end_hot_reloading(deployment()) is False
    assert deployed.updates == []


def test_a_missing_bundle_says_to_run_make_local(folders: tuple[Path, Path, Path]) -> None:
    with pytest.raises(HarnessError, match="run `make local` again"):
        watch.bundle_of(deployment(), folders[1].parent / "elsewhere")


def load_init() -> ModuleType:
    spec = importlib.util.spec_from_file_location("host_init", INIT_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Reloads:
    def __init__(self) -> None:
        self.times: list[float] = []

    def reload(self) -> None:
        self.times.append(time.monotonic())


def test_host_init_restarts_the_runtime_once_after_a_burst_of_changes(tmp_path: Path) -> None:
    init = load_init()
    (tmp_path / "handler.py").write_text("A = 1\n")
    reloads = Reloads()
    threading.Thread(target=init.watch_code, args=(reloads, [str(tmp_path)]), daemon=True).start()
    time.sleep(0.5)
    # When an editor saves three times in quick succession
    for value in range(3):
        (tmp_path / "handler.py").write_text(f"A = {value + 2}\n")
        time.sleep(0.1)
    saved = time.monotonic()
    deadline = saved + 5
    while not reloads.times and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    # Then the runtime restarts once, after the quiet period
    assert len(reloads.times) == 1
    assert reloads.times[0] - saved >= init.HOT_RELOAD_QUIET - init.HOT_RELOAD_POLL


def test_host_init_ignores_bytecode_the_runtime_writes(tmp_path: Path) -> None:
    init = load_init()
    (tmp_path / "handler.py").write_text("A = 1\n")
    reloads = Reloads()
    threading.Thread(target=init.watch_code, args=(reloads, [str(tmp_path)]), daemon=True).start()
    time.sleep(0.5)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "handler.cpython-313.pyc").write_bytes(b"\0")
    time.sleep(1.5)
    assert reloads.times == []
