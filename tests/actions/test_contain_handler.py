"""The contain Lambda: thin adapter, Powertools idempotency on DynamoDB, apply gated by mode."""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import pytest
from trailhound.containment.records import DynamoDBRecordStore
from trailhound.handlers import contain as handler


@dataclass
class FakeContext:
    function_name: str = "trailhound-contain"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:trailhound-contain"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_env(moto, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "trailhound-idempotency")
    monkeypatch.setenv("CONTAINMENT_TABLE", "trailhound-containments")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    ddb = boto3.client("dynamodb")
    for table in ("trailhound-idempotency", "trailhound-containments"):
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    handler._contain.cache_clear()
    yield key
    handler._contain.cache_clear()


def key_status(key):
    return boto3.client("iam").list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"]


def records():
    return DynamoDBRecordStore(boto3.client("dynamodb"), "trailhound-containments").list()


def event(key, apply=True, finding="f-1"):
    return {"finding_id": finding, "action": "deactivate_access_key",
            "params": {"user_name": "alice", "access_key_id": key}, "apply": apply}


def test_automatic_mode_applies_once(lambda_env, monkeypatch):
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    first = handler.lambda_handler(event(lambda_env), FakeContext())
    assert first["status"] == "applied" and first["containment_mode"] == "automatic"
    assert key_status(lambda_env) == "Inactive"
    [record] = records()
    assert record.id == first["containment_id"] and record.finding_id == "f-1"

    # the same finding + action again (a retried task, a re-delivered event): the stored answer
    again = handler.lambda_handler(event(lambda_env), FakeContext(aws_request_id="req-2"))
    assert again == json.loads(json.dumps(first))
    assert len(records()) == 1


def test_dry_run_mode_never_applies(lambda_env, monkeypatch):
    monkeypatch.setenv("CONTAINMENT_MODE", "dry-run")
    out = handler.lambda_handler(event(lambda_env), FakeContext())
    assert out["status"] == "planned" and out["apply_requested"] is True
    assert out["plan"]["changes"]
    assert key_status(lambda_env) == "Active" and records() == []


def test_dry_run_answer_is_not_reused_for_the_approved_apply(lambda_env, monkeypatch):
    monkeypatch.setenv("CONTAINMENT_MODE", "approval")
    plan = handler.lambda_handler(event(lambda_env, apply=False), FakeContext())
    assert plan["status"] == "planned"
    applied = handler.lambda_handler(event(lambda_env, apply=True), FakeContext(aws_request_id="req-2"))
    assert applied["status"] == "applied" and key_status(lambda_env) == "Inactive"


def test_accepts_the_investigation_state(lambda_env, monkeypatch):
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    state = {"investigation_id": "inv-1", "finding": {"id": "f-9", "detection_id": "x"},
             "decision": {"disposition": "auto_contain", "action": "deactivate_access_key", "apply": True,
                          "params": {"user_name": "alice", "access_key_id": lambda_env}}}
    out = handler.lambda_handler(state, FakeContext())
    assert out["status"] == "applied" and out["finding_id"] == "f-9"


def test_protected_principal_is_refused_not_raised(lambda_env, monkeypatch):
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    monkeypatch.setenv("TRAILHOUND_PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/alice")
    out = handler.lambda_handler(event(lambda_env), FakeContext())
    assert out["status"] == "refused" and "protected principal" in out["message"]
    assert key_status(lambda_env) == "Active"


def test_missing_table_setting_fails_at_cold_start(lambda_env, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "")
    with pytest.raises(ValueError, match="idempotency_table"):
        handler.lambda_handler(event(lambda_env), FakeContext())
