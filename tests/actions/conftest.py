"""Fixtures for containment action tests: moto, a call-recording boto3 session, a records file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trailhound.containment.records import JsonFileRecordStore
from trailhound.containment.runner import contain, rollback_containment

ACCOUNT = "123456789012"  # moto's default account

# IAM action names that differ from the API operation name.
OPERATION_TO_IAM = {
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}


@pytest.fixture(autouse=True)
def _containment_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No containment settings from the machine (AWS isolation: ``tests/conftest.py``)."""
    for name in ("TRAILHOUND_PROTECTED_PRINCIPALS", "TRAILHOUND_STACK_PREFIX", "TRAILHOUND_KNOWN_ACCOUNTS",
                 "CONTAINMENT_TABLE", "CONTAINMENT_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TZ", "UTC")


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws():
        yield


@dataclass
class Calls:
    """AWS operations made through the recorded session, as ``service:Operation``."""

    ops: list[str] = field(default_factory=list)

    def __call__(self, model: Any = None, **_: Any) -> None:
        self.ops.append(f"{model.service_model.signing_name}:{model.name}")

    def clear(self) -> None:
        self.ops.clear()

    def iam_actions(self) -> set[str]:
        return {OPERATION_TO_IAM.get(op, op) for op in self.ops} - NO_PERMISSION_NEEDED

    def mutating(self) -> list[str]:
        read = ("Get", "List", "Describe", "Head")
        return [op for op in self.ops if not op.split(":", 1)[1].startswith(read)]


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def session(moto: None, calls: Calls) -> boto3.Session:
    """The session handed to actions; every call through it is recorded in ``calls``."""
    s = boto3.Session(region_name="us-east-1")
    s.events.register("before-call", calls)
    return s


@pytest.fixture
def records(tmp_path: Any) -> JsonFileRecordStore:
    return JsonFileRecordStore(tmp_path / ".trailhound" / "containments.json")


@dataclass
class Runner:
    session: boto3.Session
    records: JsonFileRecordStore
    calls: Calls

    def plan(self, action: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return contain(action, params, finding_id="finding-1", apply=False, session=self.session,
                       records=self.records, **kw)

    def apply(self, action: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return contain(action, params, finding_id="finding-1", apply=True, session=self.session,
                       records=self.records, **kw)

    def rollback(self, containment_id: str) -> dict[str, Any]:
        return rollback_containment(containment_id, session=self.session, records=self.records)


@pytest.fixture
def run(session: boto3.Session, records: JsonFileRecordStore, calls: Calls) -> Runner:
    return Runner(session, records, calls)


def _assert_declared(action_cls: Any, calls: Calls, *, rollback: bool = False) -> None:
    """Every AWS call made is covered by the action's declared permissions (no IAM drift)."""
    declared = set(action_cls.permissions) | (set(action_cls.rollback_permissions) if rollback else set())
    missing = calls.iam_actions() - declared
    assert not missing, f"{action_cls.name} calls {sorted(missing)} without declaring them"


@pytest.fixture
def assert_declared() -> Any:
    return _assert_declared
