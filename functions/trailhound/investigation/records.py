"""Investigation records: a local JSON file or a DynamoDB table, one interface.

A record holds the finding, the enrichment tables, the decision and its reason, the approval,
the containment result (and its containment record id), the verification and the notification.
Pending approvals keep their task token here so ``trailhound approve`` can answer them.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from trailhound import docstore
from trailhound.errors import StoreError, UserInputError
from trailhound.output import to_jsonable

DEFAULT_PATH = Path(".trailhound/investigations.json")
ENV_TABLE = "INVESTIGATIONS_TABLE"


class InvestigationStore(ABC):
    @abstractmethod
    def put(self, record: dict[str, Any]) -> None: ...

    @abstractmethod
    def get(self, investigation_id: str) -> dict[str, Any]: ...

    @abstractmethod
    def list(self) -> list[dict[str, Any]]:
        """Newest first."""

    def update(self, investigation_id: str, **fields: Any) -> dict[str, Any]:
        try:
            record = self.get(investigation_id)
        except UserInputError:
            record = {"investigation_id": investigation_id}
        record.update(to_jsonable(fields))
        self.put(record)
        return record


class JsonFileInvestigationStore(InvestigationStore):
    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH):
        self.path = Path(path)

    def _load(self) -> dict[str, dict[str, Any]]:
        data = docstore.load_json(
            self.path, missing={}, empty={},
            corrupt=lambda exc: (f"{self.path}: investigation records are not valid JSON "
                                 f"({getattr(exc, 'msg', exc)})"))
        if not isinstance(data, dict):
            raise UserInputError(f"{self.path}: expected a JSON object of investigation records")
        return data

    def put(self, record: dict[str, Any]) -> None:
        data = self._load()
        data[record["investigation_id"]] = to_jsonable(record)
        docstore.write_json_atomic(self.path, data, indent=1, ensure_ascii=False)

    def get(self, investigation_id: str) -> dict[str, Any]:
        try:
            return self._load()[investigation_id]
        except KeyError:
            raise UserInputError(f"no investigation {investigation_id!r} in {self.path}") from None

    def list(self) -> list[dict[str, Any]]:
        return sorted(self._load().values(), key=lambda r: r.get("started_at", ""), reverse=True)


class DynamoDBInvestigationStore(InvestigationStore):
    """Items keyed on ``investigation_id``; the record is stored as a JSON string attribute."""

    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table = table_name

    def _error(self, op: str, exc: Exception) -> StoreError:
        return StoreError(f"investigations table {self.table}: {op} failed ({docstore.aws_error_code(exc)})")

    def put(self, record: dict[str, Any]) -> None:
        item = {"investigation_id": {"S": record["investigation_id"]},
                "started_at": {"S": str(record.get("started_at", ""))},
                "record": {"S": json.dumps(to_jsonable(record), ensure_ascii=False)}}
        docstore.put_item(self.client, self.table, item, error=lambda exc: self._error("put", exc))

    def get(self, investigation_id: str) -> dict[str, Any]:
        item = docstore.get_item(self.client, self.table, {"investigation_id": {"S": investigation_id}},
                                 error=lambda exc: self._error("get", exc))
        if not item:
            raise UserInputError(f"no investigation {investigation_id!r} in table {self.table}")
        return json.loads(item["record"]["S"])  # type: ignore[no-any-return]

    def list(self) -> list[dict[str, Any]]:
        items = docstore.paged_items(self.client, "scan", {"TableName": self.table},
                                     error=lambda exc: self._error("scan", exc))
        return sorted((json.loads(i["record"]["S"]) for i in items), key=lambda r: r.get("started_at", ""),
                      reverse=True)
