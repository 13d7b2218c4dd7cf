"""Investigation records: a local JSON file or a DynamoDB table, one interface.

A record holds the finding, the enrichment tables, the decision and its reason, the approval,
the containment result (and its containment record id), the verification and the notification.
Pending approvals keep their task token here so ``trailhound approve`` can answer them.
"""

from __future__ import annotations

import json
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

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
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as exc:
            raise UserInputError(f"{self.path}: investigation records are not valid JSON ({exc.msg})") from exc
        if not isinstance(data, dict):
            raise UserInputError(f"{self.path}: expected a JSON object of investigation records")
        return data

    def put(self, record: dict[str, Any]) -> None:
        data = self._load()
        data[record["investigation_id"]] = to_jsonable(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".investigations-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, ensure_ascii=False)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

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
        code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
        return StoreError(f"investigations table {self.table}: {op} failed ({code})")

    def put(self, record: dict[str, Any]) -> None:
        item = {"investigation_id": {"S": record["investigation_id"]},
                "started_at": {"S": str(record.get("started_at", ""))},
                "record": {"S": json.dumps(to_jsonable(record), ensure_ascii=False)}}
        try:
            self.client.put_item(TableName=self.table, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("put", exc) from exc

    def get(self, investigation_id: str) -> dict[str, Any]:
        try:
            item = self.client.get_item(TableName=self.table, Key={"investigation_id": {"S": investigation_id}},
                                        ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise self._error("get", exc) from exc
        if not item:
            raise UserInputError(f"no investigation {investigation_id!r} in table {self.table}")
        return json.loads(item["record"]["S"])  # type: ignore[no-any-return]

    def list(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table}
        try:
            while True:
                page = self.client.scan(**kwargs)
                out.extend(json.loads(i["record"]["S"]) for i in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise self._error("scan", exc) from exc
        return sorted(out, key=lambda r: r.get("started_at", ""), reverse=True)
