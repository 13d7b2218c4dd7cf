"""Shared set-up for the detection tests: UTC, fake AWS credentials, the loaded pack."""

from __future__ import annotations

import os

import pytest

os.environ["TZ"] = "UTC"


@pytest.fixture(autouse=True)
def _no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("TRAILHOUND_CONFIG", raising=False)
