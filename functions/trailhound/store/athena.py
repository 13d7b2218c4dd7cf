"""The Athena engine: Lake-dialect SQL rewritten for the CloudTrail table over the trail's S3 logs.

``start_query_execution`` (workgroup, database) → poll ``get_query_execution`` → page
``get_query_results`` (the first row of the first page is the header; types come from
``ResultSetMetadata``). The rewrite (``trailhound.sql.athena``) adds the partition filter on the
projected ``timestamp`` column, so a query never scans the whole bucket.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from typing import Any

from trailhound.errors import QueryFailedError, StoreError, UserInputError
from trailhound.sql.athena import DEFAULT_DELIVERY_SLACK, AthenaTable, to_athena
from trailhound.sql.params import bind, table_identifier
from trailhound.store._remote import (
    Deadline,
    Kind,
    RetryPolicy,
    call_with_retries,
    column_kinds,
    convert,
    kind_of,
    make_client,
    normalize_params,
    one_line,
    poll_delays,
    window_of,
)
from trailhound.store.base import Engine, QueryResult

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,254}$")
_SPEC = re.compile(r"^(?P<workgroup>[A-Za-z0-9._\-]{1,128})/(?P<database>[A-Za-z0-9_\-]+)\.(?P<table>[A-Za-z0-9_\-]+)$")
RUNNING = frozenset({"QUEUED", "RUNNING"})
SUCCEEDED = "SUCCEEDED"
PAGE_SIZE = 1000
OUTPUT_ENV = "TRAILHOUND_ATHENA_OUTPUT"  # s3://bucket/prefix/ when the workgroup sets none


def parse_spec(spec: str) -> tuple[str, str, str]:
    m = _SPEC.match(spec.strip())
    if not m:
        raise UserInputError(
            f"--store athena:{spec!r}: expected athena:<workgroup>/<database>.<table>, "
            "e.g. athena:primary/security.cloudtrail_logs_pp")
    return m.group("workgroup"), m.group("database"), m.group("table")


class AthenaStore:
    """EventStore over the Athena CloudTrail table. ``client`` is a boto3 athena client."""

    engine = Engine.ATHENA

    def __init__(self, workgroup: str, database: str, table: str, client: Any = None, *,
                 policy: RetryPolicy | None = None, output_location: str | None = None,
                 partition_column: str = "timestamp",
                 delivery_slack: dt.timedelta = DEFAULT_DELIVERY_SLACK, page_size: int = PAGE_SIZE):
        for label, value in (("database", database), ("table", table), ("partition column", partition_column)):
            if not _NAME.match(value):
                raise UserInputError(f"athena {label} {value!r} is not a valid name")
        self.workgroup = workgroup
        self.database = database
        self.table = AthenaTable(table=table, database=database, partition_column=partition_column,
                                 delivery_slack=delivery_slack)
        self.client = client
        self.policy = policy or RetryPolicy()
        self.output_location = output_location
        self.page_size = page_size

    @property
    def name(self) -> str:
        return f"athena:{self.workgroup}/{self.database}.{self.table.table}"

    def close(self) -> None:
        """Nothing to release (the boto3 client has no session to close); for symmetry with LocalStore."""

    def compile(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        values = normalize_params(params)
        bound = bind(sql, values, table=table_identifier(f"{self.database}.{self.table.table}"))
        return to_athena(bound, self.table, window=window_of(values))

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *,
              types: Mapping[str, str] | None = None) -> QueryResult:
        if self.client is None:
            raise StoreError(f"{self.name}: no Athena client configured")
        statement = self.compile(sql, params)
        deadline = Deadline(self.policy)
        execution_id = self._start(statement, deadline)
        execution = self._wait(execution_id, deadline)
        columns, engine_kinds, rows_text = self._fetch(execution_id, deadline)
        kinds = column_kinds(columns, hint=types, engine=engine_kinds)
        rows = [{c: convert(v, kinds[c]) for c, v in zip(columns, r, strict=False)} for r in rows_text]
        stats = execution.get("Statistics") or {}
        return QueryResult(
            columns=columns, rows=rows, sql=statement, elapsed_s=deadline.elapsed(),
            bytes_scanned=_int(stats.get("DataScannedInBytes")), query_id=execution_id,
            extra={"status": SUCCEEDED, "engine_ms": _int(stats.get("EngineExecutionTimeInMillis")),
                   "total_ms": _int(stats.get("TotalExecutionTimeInMillis")),
                   "queue_ms": _int(stats.get("QueryQueueTimeInMillis"))},
        )

    # -- the three calls ------------------------------------------------------------------------
    def _start(self, statement: str, deadline: Deadline) -> str:
        kwargs: dict[str, Any] = {
            "QueryString": statement,
            "WorkGroup": self.workgroup,
            "QueryExecutionContext": {"Database": self.database},
        }
        if self.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.output_location}
        resp = call_with_retries(self.client.start_query_execution, deadline, store=self.name,
                                 op="StartQueryExecution", **kwargs)
        return str(resp["QueryExecutionId"])

    def _wait(self, execution_id: str, deadline: Deadline) -> dict[str, Any]:
        for delay in poll_delays(self.policy):
            resp = call_with_retries(self.client.get_query_execution, deadline, store=self.name,
                                     op="GetQueryExecution", QueryExecutionId=execution_id)
            execution: dict[str, Any] = resp.get("QueryExecution") or {}
            status = execution.get("Status") or {}
            state = str(status.get("State"))
            if state == SUCCEEDED:
                return execution
            if state not in RUNNING:
                error = status.get("AthenaError") or {}
                code = f" (ErrorType {error['ErrorType']})" if error.get("ErrorType") is not None else ""
                reason = one_line(status.get("StateChangeReason") or error.get("ErrorMessage")) or "no message"
                raise QueryFailedError(f"{self.name}: query {execution_id} {state}{code}: {reason}",
                                       query_id=execution_id, status=state)
            if deadline.remaining() <= 0:
                self._cancel(execution_id)
                raise QueryFailedError(
                    f"{self.name}: query {execution_id} still {state} after {self.policy.timeout_s:g} s; "
                    "cancelled it (raise the timeout or narrow the window)",
                    query_id=execution_id, status="TIMEOUT")
            deadline.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _cancel(self, execution_id: str) -> None:
        try:
            self.client.stop_query_execution(QueryExecutionId=execution_id)
        except Exception:  # noqa: BLE001 - best effort
            pass

    def _fetch(self, execution_id: str, deadline: Deadline
               ) -> tuple[list[str], dict[str, Kind], list[list[str | None]]]:
        columns: list[str] = []
        kinds: dict[str, Kind] = {}
        rows: list[list[str | None]] = []
        token: str | None = None
        first = True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": self.page_size}
            if token:
                kwargs["NextToken"] = token
            resp = call_with_retries(self.client.get_query_results, deadline, store=self.name,
                                     op="GetQueryResults", **kwargs)
            result = resp.get("ResultSet") or {}
            page = result.get("Rows") or []
            if first:
                info = (result.get("ResultSetMetadata") or {}).get("ColumnInfo") or []
                columns = [str(c.get("Label") or c.get("Name")) for c in info]
                kinds = {c.lower(): kind_of(str(i.get("Type") or "varchar")) for c, i in zip(columns, info, strict=True)}
                page = page[1:]  # a SELECT's first row is the header
                first = False
            for row in page:
                rows.append([cell.get("VarCharValue") for cell in row.get("Data") or []])
            token = resp.get("NextToken")
            if not token:
                return columns, kinds, rows


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def from_spec(spec: str) -> AthenaStore:
    """``athena:<workgroup>/<database>.<table>`` → an AthenaStore with a plain boto3 client."""
    workgroup, database, table = parse_spec(spec)
    store = f"athena:{spec}"
    return AthenaStore(workgroup, database, table, make_client("athena", region=None, store=store),
                       output_location=os.environ.get(OUTPUT_ENV) or None)
