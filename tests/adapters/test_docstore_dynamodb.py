"""The record stores' shared DynamoDB plumbing on moto: versioned puts, paged reads, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trailhound import docstore
from trailhound.errors import StoreError

TABLE = "docs"


class Conflict(StoreError):
    pass


# Fake credentials and no endpoint from the machine: tests/conftest.py.


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        yield client


def error(exc: Exception) -> StoreError:
    return StoreError(f"docs: failed ({docstore.aws_error_code(exc)})")


def put(ddb: Any, version: int, expected: int | None, body: str = "x") -> None:
    item = {"id": {"S": "a"}, "version": {"N": str(version)}, "body": {"S": body}}
    docstore.put_versioned(ddb, TABLE, item, key="id", expected=expected,
                           conflict=lambda: Conflict(f"a changed (expected {expected})"), error=error)


def test_versioned_put_creates_once_then_updates_only_the_version_read(ddb: Any) -> None:
    put(ddb, 1, None)
    with pytest.raises(Conflict, match="expected None") as err:
        put(ddb, 1, None, body="twin")
    assert docstore.is_condition_failure(err.value.__cause__)  # type: ignore[arg-type]
    put(ddb, 2, 1, body="second")
    with pytest.raises(Conflict, match="expected 1"):
        put(ddb, 2, 1, body="stale")
    item = docstore.get_item(ddb, TABLE, {"id": {"S": "a"}}, error=error)
    assert item is not None and item["version"] == {"N": "2"} and item["body"] == {"S": "second"}


def test_get_item_of_a_missing_key_is_none(ddb: Any) -> None:
    assert docstore.get_item(ddb, TABLE, {"id": {"S": "nope"}}, error=error) is None


def test_paged_items_follow_last_evaluated_key(ddb: Any) -> None:
    for i in range(7):
        docstore.put_item(ddb, TABLE, {"id": {"S": f"k{i}"}}, error=error)
    calls: list[dict[str, Any]] = []

    class Counting:
        def scan(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return ddb.scan(**kwargs)

    items = list(docstore.paged_items(Counting(), "scan", {"TableName": TABLE, "Limit": 3}, error=error))
    assert sorted(i["id"]["S"] for i in items) == [f"k{i}" for i in range(7)]
    assert len(calls) >= 3 and "ExclusiveStartKey" not in calls[0] and "ExclusiveStartKey" in calls[1]


def test_aws_failures_become_the_store_error_naming_the_code(ddb: Any) -> None:
    with pytest.raises(StoreError, match=r"^docs: failed \(ResourceNotFoundException\)$"):
        docstore.put_item(ddb, "missing", {"id": {"S": "a"}}, error=error)
    with pytest.raises(StoreError, match="ResourceNotFoundException"):
        docstore.get_item(ddb, "missing", {"id": {"S": "a"}}, error=error)
    with pytest.raises(StoreError, match="ResourceNotFoundException"):
        list(docstore.paged_items(ddb, "scan", {"TableName": "missing"}, error=error))
    with pytest.raises(StoreError, match="ResourceNotFoundException"):  # not mistaken for a conflict
        docstore.put_versioned(ddb, "missing", {"id": {"S": "a"}}, key="id", expected=None,
                               conflict=lambda: Conflict("no"), error=error)
