"""Containment records: one interface, a DynamoDB table in AWS and a local JSON file otherwise.

Writes are conditional: a new record is written only if its id is unused, an update only if the
stored ``version`` is the one read (so two rollbacks of one containment cannot both win).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from trailhound import docstore
from trailhound.containment.errors import (
    ContainmentAwsError,
    RecordConflictError,
    RecordNotFoundError,
)
from trailhound.containment.models import ContainmentRecord, utcnow
from trailhound.errors import UserInputError

DEFAULT_RECORDS_PATH = Path(".trailhound/containments.json")
ENV_TABLE = "CONTAINMENT_TABLE"


class ContainmentRecordStore(ABC):
    """Where containment records live."""

    @abstractmethod
    def describe(self) -> str:
        """Where, for messages (a path or a table name)."""

    @abstractmethod
    def _write(self, record: ContainmentRecord, expected_version: int) -> None:
        """Store ``record`` (version already bumped) if the stored version is ``expected_version``
        (0: no record with that id may exist); else raise ``RecordConflictError``."""

    @abstractmethod
    def get(self, record_id: str) -> ContainmentRecord:
        """The record, or ``RecordNotFoundError`` naming the id and the store."""

    @abstractmethod
    def list(self) -> list[ContainmentRecord]:
        """Every record, newest first."""

    def save(self, record: ContainmentRecord) -> None:
        """Create or update ``record`` conditionally; bumps ``version`` and ``updated_at``."""
        expected = record.version
        record.version = expected + 1
        record.updated_at = utcnow()
        try:
            self._write(record, expected)
        except Exception:
            record.version = expected
            raise


def _newest_first(records: list[ContainmentRecord]) -> list[ContainmentRecord]:
    return sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)


def _conflict(record: ContainmentRecord, expected_version: int, where: str) -> RecordConflictError:
    what = "already exists" if expected_version == 0 else "was changed meanwhile"
    return RecordConflictError(f"containment record {record.id} {what} in {where}")


class JsonFileRecordStore(ContainmentRecordStore):
    """A local JSON file ``{"records": [...]}``, replaced atomically (temp file + rename)."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_RECORDS_PATH):
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    def _load(self) -> dict[str, dict[str, Any]]:
        data = docstore.load_json(
            self.path, missing={"records": []}, empty={},
            corrupt=lambda exc: f"{self.path}: not a containment records file ({exc})")
        items = data.get("records") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise UserInputError(f"{self.path}: expected an object with a \"records\" list")
        return {str(item.get("id")): item for item in items if isinstance(item, dict)}

    def _write(self, record: ContainmentRecord, expected_version: int) -> None:
        records = self._load()
        if (docstore.stored_version(records.get(record.id)) or 0) != expected_version:
            raise _conflict(record, expected_version, str(self.path))
        records[record.id] = record.model_dump(mode="json")
        ordered = sorted(records.values(), key=lambda r: (str(r.get("created_at")), str(r.get("id"))))
        docstore.write_json_atomic(self.path, {"records": ordered}, indent=2, ensure_ascii=False,
                                   final_newline=True)

    def get(self, record_id: str) -> ContainmentRecord:
        item = self._load().get(record_id)
        if item is None:
            raise RecordNotFoundError(f"no containment record {record_id!r} in {self.path}")
        return ContainmentRecord.model_validate(item)

    def list(self) -> list[ContainmentRecord]:
        return _newest_first([ContainmentRecord.model_validate(i) for i in self._load().values()])


class DynamoDBRecordStore(ContainmentRecordStore):
    """A DynamoDB table with partition key ``id`` (S). The record is one JSON attribute plus a few
    top-level attributes (action, status, finding_id, created_at) for console browsing."""

    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table_name = table_name

    def describe(self) -> str:
        return f"DynamoDB table {self.table_name}"

    def _aws(self, operation: str, exc: Exception) -> ContainmentAwsError:
        return ContainmentAwsError(f"containment records: AWS {operation} on {self.table_name} failed: "
                                   + docstore.aws_error_text(exc))

    def _write(self, record: ContainmentRecord, expected_version: int) -> None:
        item = {
            "id": {"S": record.id},
            "version": {"N": str(record.version)},
            "action": {"S": record.action},
            "status": {"S": record.status.value},
            "created_at": {"S": record.created_at.isoformat()},
            "record": {"S": record.model_dump_json()},
        }
        if record.finding_id:
            item["finding_id"] = {"S": record.finding_id}
        docstore.put_versioned(self.client, self.table_name, item, key="id", expected=expected_version or None,
                               conflict=lambda: _conflict(record, expected_version, self.describe()),
                               error=lambda exc: self._aws("PutItem", exc))

    def get(self, record_id: str) -> ContainmentRecord:
        item = docstore.get_item(self.client, self.table_name, {"id": {"S": record_id}},
                                 error=lambda exc: self._aws("GetItem", exc))
        if item is None:
            raise RecordNotFoundError(f"no containment record {record_id!r} in {self.describe()}")
        return ContainmentRecord.model_validate_json(item["record"]["S"])

    def list(self) -> list[ContainmentRecord]:
        items = docstore.paged_items(self.client, "scan", {"TableName": self.table_name},
                                     error=lambda exc: self._aws("Scan", exc))
        return _newest_first([ContainmentRecord.model_validate_json(i["record"]["S"]) for i in items])


def store_from_env(session: Any | None = None, *, path: str | os.PathLike[str] | None = None,
                   table_name: str | None = None) -> ContainmentRecordStore:
    """A named table, else a given path, else env ``CONTAINMENT_TABLE``, else the default file."""
    table = table_name or (None if path else os.environ.get(ENV_TABLE))
    if table:
        if session is None:
            import boto3

            session = boto3.Session()
        return DynamoDBRecordStore(session.client("dynamodb"), table)
    return JsonFileRecordStore(path or DEFAULT_RECORDS_PATH)
