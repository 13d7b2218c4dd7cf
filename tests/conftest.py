"""Fixtures every test tier shares.

Every test runs cut off from the AWS set-up of the machine it runs on: a developer's profile,
session token or ``AWS_ENDPOINT_URL`` (LocalStack, say) must never reach an AWS account nor
bypass moto's in-process mock. Tests that want an endpoint (a local moto server) set it
themselves, after this fixture.
"""

from __future__ import annotations

import os

import pytest

_DROP = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")
_FAKE = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def pytest_configure(config: pytest.Config) -> None:
    """Before collection too: some modules build their AWS clients when imported (Lambda handlers)."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in _DROP:
            del os.environ[name]
    os.environ.update(_FAKE)


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):  # whatever an earlier test left behind
        if name.startswith("AWS_ENDPOINT_URL") or name in _DROP:
            monkeypatch.delenv(name, raising=False)
    for name, value in _FAKE.items():
        monkeypatch.setenv(name, value)
    nowhere = tmp_path_factory.getbasetemp() / "no-aws-files"  # never created: no config, no credentials
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
