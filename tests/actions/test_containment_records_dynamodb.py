"""The DynamoDB containment record store against moto: conditional put, get, newest-first list."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from trailhound.containment.errors import ContainmentAwsError, RecordConflictError, RecordNotFoundError
from trailhound.containment.models import ContainmentRecord, RecordStatus
from trailhound.containment.records import DynamoDBRecordStore, store_from_env


@pytest.fixture
def store(moto):
    ddb = boto3.client("dynamodb")
    ddb.create_table(TableName="containments", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    return DynamoDBRecordStore(ddb, "containments")


def rec(day: str) -> ContainmentRecord:
    return ContainmentRecord(action="block_public_bucket", params={"bucket": "b"}, finding_id="f-1",
                             created_at=dt.datetime.fromisoformat(f"{day}T00:00:00+00:00"))


def test_round_trip_and_conditional_writes(store):
    r = rec("2024-05-01")
    store.save(r)
    r.before_state = {"public_access_block": None, "policy": '{"Version": "2012-10-17"}'}
    r.status = RecordStatus.APPLIED
    store.save(r)
    got = store.get(r.id)
    assert got == r.model_copy(update={"version": 2})
    with pytest.raises(RecordConflictError, match="already exists in DynamoDB table containments"):
        store.save(r.model_copy(update={"version": 0}))
    with pytest.raises(RecordConflictError, match="changed meanwhile"):
        store.save(r.model_copy(update={"version": 1}))
    item = boto3.client("dynamodb").get_item(TableName="containments", Key={"id": {"S": r.id}})["Item"]
    assert item["action"]["S"] == "block_public_bucket" and item["status"]["S"] == "applied"


def test_list_newest_first_and_missing(store):
    ids = {}
    for day in ("2024-05-02", "2024-05-03", "2024-05-01"):
        r = rec(day)
        store.save(r)
        ids[day] = r.id
    assert [r.id for r in store.list()] == [ids["2024-05-03"], ids["2024-05-02"], ids["2024-05-01"]]
    with pytest.raises(RecordNotFoundError, match="no containment record 'ctn-x' in DynamoDB table containments"):
        store.get("ctn-x")


def test_missing_table_is_one_line_with_the_code(moto):
    store = DynamoDBRecordStore(boto3.client("dynamodb"), "nope")
    with pytest.raises(ContainmentAwsError, match="AWS Scan on nope failed: ResourceNotFoundException"):
        store.list()


def test_store_from_env_picks_the_table(moto, monkeypatch):
    monkeypatch.setenv("CONTAINMENT_TABLE", "containments")
    assert store_from_env(boto3.Session()).describe() == "DynamoDB table containments"
