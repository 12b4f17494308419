"""Fake AWS credentials for tests over moto: a mistake can never reach a real account."""

from __future__ import annotations

import pytest


def use_fake_credentials(monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
