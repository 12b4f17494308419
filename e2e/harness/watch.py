"""`make watch`'s sync: a saved change under lambda/ is served by the running `make local` at
once (the command itself is `local.watch`; this module imports nothing of local.py).

LocalStack's Lambda hot reloading does the serving: the function's code comes from a host
folder through the magic `hot-reload` bucket (S3Key = the folder's absolute path, the same in
LocalStack's container: docker-compose.yml mounts paths.HOT_RELOAD_ROOT there), and the
function's runtime restarts once the folder has been quiet for 0.5 s (in a Lambda container,
LocalStack's init does that; on the host and in the project's image, the project's executor,
e2e/host/executor). The folder holds the function's pinned dependencies, taken from the
deployed bundle, and a copy of lambda/ that this loop keeps in sync: a copy rather than a link,
so that a bind mount into a container sees it too. When the watch ends (Ctrl-C), the function
gets its deployed code back: the stack stays the one `make local` deployed.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.harness.deploy import ACCOUNT, REGION, aws_client
from e2e.harness.deployment import Deployment
from e2e.harness.modes import HarnessError
from e2e.harness.paths import REPO_ROOT
from infra.names import stack_name

HOT_RELOAD_BUCKET = "hot-reload"  # LocalStack's BUCKET_MARKER_LOCAL default
SOURCE = REPO_ROOT / "lambda"
POLL_SECONDS = 0.2
MARKER_HEADER = "X-Watch-Marker"
# Never part of the function (as in infra/bundling.py), nor a reason to reload.
IGNORED = ("__pycache__", ".pytest_cache", ".mypy_cache", "tests", "requirements.txt")


def _ignored(path: Path) -> bool:
    return any(part in IGNORED for part in path.parts) or path.suffix == ".pyc"


def source_files(source: Path) -> Iterator[Path]:
    """The function's own files under `source`, relative to it."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and not _ignored(relative):
            yield relative


def _drop_bytecode(module: Path) -> None:
    """The bundle's bytecode is never checked against its source (unchecked-hash, for cold
    starts): an edited module's must go, or Python would go on running the old code."""
    for cached in (module.parent / "__pycache__").glob(f"{module.stem}.*.pyc"):
        cached.unlink()


def snapshot(source: Path) -> dict[Path, tuple[int, int]]:
    snap: dict[Path, tuple[int, int]] = {}
    for relative in source_files(source):
        try:
            stat = (source / relative).stat()
        except FileNotFoundError:  # saved by an editor that renames: seen at the next poll
            continue
        snap[relative] = (stat.st_mtime_ns, stat.st_size)
    return snap


def bundle_of(deployment: Deployment, cloud_assembly: Path) -> Path:
    """The folder CDK bundled the function from (dependencies and code), in cdk.out."""
    function = deployment.users_function
    bundle: Path = cloud_assembly / str(function["Metadata"]["aws:asset:path"])
    if not bundle.is_dir():
        raise HarnessError(f"the function's bundle {bundle} is gone: run `make local` again")
    return bundle


def deployed_code(deployment: Deployment) -> dict[str, str]:
    """The function's S3 code location as the template gives it (the CDK asset)."""
    function = deployment.users_function
    code = function["Properties"]["Code"]
    bucket = code["S3Bucket"]
    if isinstance(bucket, dict):  # {"Fn::Sub": "cdk-...-assets-${AWS::AccountId}-${AWS::Region}"}
        bucket = bucket["Fn::Sub"].replace("${AWS::AccountId}", ACCOUNT)
        bucket = bucket.replace("${AWS::Region}", REGION)
    return {"S3Bucket": str(bucket), "S3Key": str(code["S3Key"])}


@dataclass
class Watcher:
    deployment: Deployment
    cloud_assembly: Path
    code_dir: Path
    source: Path = SOURCE
    log: Any = print
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict)

    @property
    def function_name(self) -> str:
        return self.deployment.function_name

    def start(self) -> None:
        """Lay out the code folder and point the function at it."""
        shutil.rmtree(self.code_dir, ignore_errors=True)
        shutil.copytree(bundle_of(self.deployment, self.cloud_assembly), self.code_dir)
        self.sync()
        self._update_code({"S3Bucket": HOT_RELOAD_BUCKET, "S3Key": str(self.code_dir.resolve())})

    def sync(self) -> list[Path]:
        """Copy what changed under `source` into the code folder; the paths it changed there."""
        current = snapshot(self.source)
        copied: list[Path] = []
        for relative, stamp in current.items():
            target = self.code_dir / relative
            if self._seen.get(relative) == stamp or (
                target.is_file() and filecmp.cmp(self.source / relative, target, shallow=False)
            ):
                continue  # unchanged, or touched only
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.source / relative, target)
            _drop_bytecode(target)
            copied.append(relative)
        removed = [relative for relative in self._seen if relative not in current]
        for relative in removed:
            (self.code_dir / relative).unlink(missing_ok=True)
        self._seen = current
        return copied + removed

    def restore(self) -> None:
        """Give the function its deployed code back."""
        self._update_code(deployed_code(self.deployment))

    def _update_code(self, location: dict[str, str]) -> None:
        client = aws_client("lambda", self.deployment.endpoint)
        client.update_function_code(FunctionName=self.function_name, **location)
        client.get_waiter("function_updated_v2").wait(FunctionName=self.function_name)

    def loop(self, stop: threading.Event) -> None:
        """Sync every POLL_SECONDS until `stop` is set."""
        while not stop.wait(POLL_SECONDS):
            changed = self.sync()
            if changed:
                names = ", ".join(str(self.source.name / p) for p in changed[:3])
                more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                self.log(f"{time.strftime('%H:%M:%S')} {names}{more} changed: live in ~1 s")


def end_hot_reloading(deployment: Deployment) -> bool:
    """Give the function its deployed code back if a `make watch` that was killed left it
    on the watch folder; True when it did."""
    client = aws_client("lambda", deployment.endpoint)
    code = client.get_function(FunctionName=deployment.function_name)["Code"]
    if not str(code.get("Location", "")).startswith("file://"):
        return False
    client.update_function_code(FunctionName=deployment.function_name, **deployed_code(deployment))
    client.get_waiter("function_updated_v2").wait(FunctionName=deployment.function_name)
    return True


def load_deployment(endpoint: str, work_dir: Path) -> Deployment:
    """The deployment `make local` made, from the files its deploy wrote."""
    name = stack_name("dev")
    try:
        outputs = json.loads((work_dir / "outputs.json").read_text())[name]
        template = json.loads((work_dir / "cdk.out" / f"{name}.template.json").read_text())
    except (OSError, ValueError, KeyError) as error:
        raise HarnessError(f"no deployment of {name} found ({error}): run `make local`") from error
    return Deployment(endpoint, name, outputs, template, {})


def marker_edit(source: Path, handler: str, marker: str) -> Path:
    """Append to the handler's module an edit that adds `X-Watch-Marker: <marker>` to every
    response: how the e2e test and the benchmark see a saved change go live. The edited file."""
    module, _, function = handler.rpartition(".")
    path = source / f"{module.replace('.', '/')}.py"
    with path.open("a") as file:
        file.write(
            f"\n\n_before_{marker} = {function}\n\n\n"
            f"def {function}(event, context):  # type: ignore[no-untyped-def]\n"
            f"    response = _before_{marker}(event, context)\n"
            f'    response.setdefault("headers", {{}})["{MARKER_HEADER}"] = "{marker}"\n'
            f"    return response\n"
        )
    return path
