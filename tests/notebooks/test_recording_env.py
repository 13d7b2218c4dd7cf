"""The recording's AWS environment is set around the tests that use it and nowhere else: a test
run later in the same worker (another suite's moto mock) must not reach the recording's server."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.slow  # starts the recording when no other test in the worker has


def test_a_test_using_the_recording_reaches_its_endpoint(recording: Any) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == recording.endpoint
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    for name in ("AWS_PROFILE", "INVESTIGATIONS_TABLE", "CONTAINMENT_TABLE", "TRAILHOUND_STORE"):
        assert name not in os.environ
    users = boto3.client("iam").list_users()["Users"]  # the seeded account, through the env alone
    assert recording.resources["user_name"] in {u["UserName"] for u in users}


def test_the_environment_is_back_after_the_recording_and_after_its_use(request: pytest.FixtureRequest,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Not a parameter: the per-test fixture does not apply here, so what is seen is what is left.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://before.invalid")
    monkeypatch.setenv("CONTAINMENT_TABLE", "mine")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN", "CONTAINMENT_TABLE", "MPLBACKEND")
    before = {n: os.environ.get(n) for n in names}
    recording = request.getfixturevalue("recording")  # started now or earlier in this worker
    assert {n: os.environ.get(n) for n in names} == before
    with recording.environment():  # exactly what wraps each notebook test
        assert os.environ["AWS_ENDPOINT_URL"] == recording.endpoint and "CONTAINMENT_TABLE" not in os.environ
    assert {n: os.environ.get(n) for n in names} == before
