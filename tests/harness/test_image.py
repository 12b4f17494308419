"""Which image Docker mode runs, and when the project's own is rebuilt (no Docker engine)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from e2e.harness import image
from e2e.harness.host_install import HOST_SOURCES, host_distributions
from e2e.harness.paths import REPO_ROOT


def test_an_image_the_caller_names_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image, "pulled", lambda name, log=None: pytest.fail("nothing to pull"))
    chosen = image.localstack_image({"LOCALSTACK_IMAGE": "example/localstack:1"})
    assert chosen == "example/localstack:1"


def test_the_projects_image_is_the_default_and_said_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a machine where the official image could be pulled
    monkeypatch.setattr(image, "pulled", lambda name, log=None: True)
    monkeypatch.setattr(image, "ensure_image", lambda log=None: "users-api-localstack:abc")
    said: list[str] = []

    # When Docker mode picks its image
    chosen = image.localstack_image({}, log=said.append)

    # Then it is the project's (its plugin records the function's calls), said in one line
    assert chosen == "users-api-localstack:abc"
    (line,) = said
    assert "users-api-localstack:abc" in line
    assert "LOCALSTACK_IMAGE" in line


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of what the image is made from, for the content hash to look at."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / HOST_SOURCES, root / HOST_SOURCES)
    (root / "e2e" / "docker").mkdir(parents=True)
    shutil.copy(image.DOCKERFILE, root / "e2e" / "docker" / "Dockerfile")
    monkeypatch.setattr(image, "REPO_ROOT", root)
    monkeypatch.setattr(image, "DOCKERFILE", root / "e2e" / "docker" / "Dockerfile")
    return root


@pytest.fixture
def dynamodb_local(tmp_path: Path) -> Path:
    folder = tmp_path / "dynamodb_local_2026-05-28"
    folder.mkdir()
    (folder / "DynamoDBLocal.jar").write_bytes(b"jar")
    return folder


def test_the_tag_changes_with_what_the_image_is_made_from_and_only_then(
    repo: Path, dynamodb_local: Path
) -> None:
    first = image.content_tag("sha256:base", dynamodb_local)
    assert first.startswith("users-api-localstack:")
    assert image.content_tag("sha256:base", dynamodb_local) == first
    # A new base, a changed lock, and a new distribution under e2e/host/ each give a new tag
    assert image.content_tag("sha256:other", dynamodb_local) != first
    lock = repo / HOST_SOURCES / "lambda-runtime.lock"
    lock.write_text(lock.read_text() + "\n# changed\n")
    second = image.content_tag("sha256:base", dynamodb_local)
    assert second != first
    extension = repo / HOST_SOURCES / "recorder"
    extension.mkdir()
    (extension / "pyproject.toml").write_text('[project]\nname = "recorder"\n')
    assert extension in host_distributions(repo / HOST_SOURCES)
    assert image.content_tag("sha256:base", dynamodb_local) != second


def test_the_debian_base_comes_from_the_mirror_apt_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: trixie\n"
    )
    assert image.debian_mirror(apt) == "http://mirror.example/debian"
    (apt / "sources.list").write_text("deb [arch=amd64] http://other.example/debian trixie main\n")
    assert image.debian_mirror(apt) == "http://other.example/debian"
    monkeypatch.setenv("DEBIAN_MIRROR", "http://chosen.example/debian")
    assert image.debian_mirror(apt) == "http://chosen.example/debian"
    assert image.debian_mirror(tmp_path / "none") == "http://chosen.example/debian"
