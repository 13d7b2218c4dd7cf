"""The CloudTrail Lake engine: ``start_query`` → poll ``describe_query`` → page ``get_query_results``.

The SQL is sent in Lake's own dialect, bound, with the event data store's id (the ID part of
its ARN) as the table. Lake allows 10 queued or running queries per account and Region:
``MaxConcurrentQueriesException`` and throttling are retried with jittered backoff inside an
overall timeout, after which the query is cancelled. Every value comes back as a string and is
converted to the contract's types (see ``store/_remote.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trailhound.errors import QueryFailedError, StoreError, UserInputError
from trailhound.sql.params import bind
from trailhound.store._remote import (
    Deadline,
    RetryPolicy,
    call_with_retries,
    column_kinds,
    convert,
    infer_kinds,
    make_client,
    normalize_params,
    one_line,
    poll_delays,
    select_names,
)
from trailhound.store.base import Engine, QueryResult

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{2,127}$")
_ARN = re.compile(r"^arn:(?P<partition>[a-z\-]+):cloudtrail:(?P<region>[a-z0-9\-]+):(?P<account>\d{12}):"
                  r"eventdatastore/(?P<id>[A-Za-z0-9\-]+)$")
_LEADING_COMMENTS = re.compile(r"^\s*(?:(?:/\*.*?\*/|--[^\n]*)\s*)*", re.S)
RUNNING = frozenset({"QUEUED", "RUNNING"})
FINISHED = "FINISHED"
PAGE_SIZE = 1000


def parse_event_data_store(ref: str) -> tuple[str, str | None, str | None]:
    """``id`` or ARN → (id, region from the ARN, account from the ARN)."""
    ref = ref.strip()
    m = _ARN.match(ref)
    if m:
        return m.group("id"), m.group("region"), m.group("account")
    if _ID.match(ref):
        return ref, None, None
    raise UserInputError(
        f"--store lake:{ref!r}: expected an event data store id (the last part of its ARN) or an ARN "
        "arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>")


def strip_leading_comments(sql: str) -> str:
    """Drop the detection header (a leading block comment) and other leading comments."""
    return _LEADING_COMMENTS.sub("", sql, count=1).strip()


class LakeStore:
    """EventStore over a CloudTrail Lake event data store. ``client`` is a boto3 cloudtrail client."""

    engine = Engine.LAKE

    def __init__(self, event_data_store: str, client: Any = None, *, policy: RetryPolicy | None = None,
                 owner_account_id: str | None = None, page_size: int = PAGE_SIZE):
        self.ref = event_data_store
        self.eds_id, self.region, _ = parse_event_data_store(event_data_store)
        self.client = client
        self.policy = policy or RetryPolicy()
        self.owner_account_id = owner_account_id
        self.page_size = page_size

    @property
    def name(self) -> str:
        return f"lake:{self.ref}"

    def close(self) -> None:
        """Nothing to release (the boto3 client has no session to close); for symmetry with LocalStore."""

    def compile(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        return bind(strip_leading_comments(sql), normalize_params(params), table=self.eds_id)

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *,
              types: Mapping[str, str] | None = None) -> QueryResult:
        """Run ``sql``; ``types`` optionally names the type of result columns (``{"n": "bigint"}``)."""
        if self.client is None:
            raise StoreError(f"{self.name}: no CloudTrail client configured")
        statement = self.compile(sql, params)
        # Lake's table is a bare id (``EXAMPLE-f852-...``) that is not valid Trino: read the
        # SELECT's names and types from the same SQL bound with a plain table name.
        probe = bind(strip_leading_comments(sql), normalize_params(params), table="eds")
        deadline = Deadline(self.policy)
        query_id = self._start(statement, deadline)
        described = self._wait(query_id, deadline)
        rows_text = self._fetch(query_id, deadline)
        stats = described.get("QueryStatistics") or {}
        columns = _columns(rows_text, select_names(probe))
        kinds = column_kinds(columns, hint=types, inferred=infer_kinds(probe))
        rows = [{c: convert(r.get(c), kinds[c]) for c in columns} for r in rows_text]
        return QueryResult(
            columns=columns, rows=rows, sql=statement, elapsed_s=deadline.elapsed(),
            bytes_scanned=_int(stats.get("BytesScanned")), query_id=query_id,
            extra={"status": described.get("QueryStatus"),
                   "events_scanned": _int(stats.get("EventsScanned")),
                   "events_matched": _int(stats.get("EventsMatched")),
                   "execution_ms": _int(stats.get("ExecutionTimeInMillis"))},
        )

    # -- the three calls ------------------------------------------------------------------------
    def _owner(self) -> dict[str, str]:
        return {"EventDataStoreOwnerAccountId": self.owner_account_id} if self.owner_account_id else {}

    def _start(self, statement: str, deadline: Deadline) -> str:
        resp = call_with_retries(self.client.start_query, deadline, store=self.name, op="StartQuery",
                                 QueryStatement=statement, **self._owner())
        return str(resp["QueryId"])

    def _wait(self, query_id: str, deadline: Deadline) -> dict[str, Any]:
        for delay in poll_delays(self.policy):
            resp: dict[str, Any] = call_with_retries(
                self.client.describe_query, deadline, store=self.name, op="DescribeQuery",
                QueryId=query_id, **self._owner())
            status = str(resp.get("QueryStatus"))
            if status == FINISHED:
                return resp
            if status not in RUNNING:
                message = one_line(resp.get("ErrorMessage")) or "no message"
                raise QueryFailedError(f"{self.name}: query {query_id} {status}: {message}",
                                       query_id=query_id, status=status)
            if deadline.remaining() <= 0:
                self._cancel(query_id, deadline)
                raise QueryFailedError(
                    f"{self.name}: query {query_id} still {status} after {self.policy.timeout_s:g} s; "
                    "cancelled it (raise the timeout or narrow the window)",
                    query_id=query_id, status="TIMEOUT")
            deadline.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _cancel(self, query_id: str, deadline: Deadline) -> None:
        try:
            self.client.cancel_query(QueryId=query_id, **self._owner())
        except Exception:  # noqa: BLE001 - best effort: the query may have just finished
            pass

    def _fetch(self, query_id: str, deadline: Deadline) -> list[dict[str, str | None]]:
        rows: list[dict[str, str | None]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"QueryId": query_id, "MaxQueryResults": self.page_size, **self._owner()}
            if token:
                kwargs["NextToken"] = token
            resp = call_with_retries(self.client.get_query_results, deadline, store=self.name,
                                     op="GetQueryResults", **kwargs)
            for raw in resp.get("QueryResultRows") or []:
                row: dict[str, str | None] = {}
                for cell in raw:
                    row.update(cell)
                rows.append(row)
            token = resp.get("NextToken")
            if not token:
                return rows


def _columns(rows: list[dict[str, str | None]], declared: list[str]) -> list[str]:
    """Column order: the SELECT's names, then anything else the rows carry, in first-seen order."""
    seen = {c.lower(): c for c in declared}
    out = list(declared)
    for row in rows:
        for key in row:
            if key.lower() not in seen:
                seen[key.lower()] = key
                out.append(key)
    # Use the engine's spelling of a declared name (Lake lowercases unquoted identifiers).
    spelled = {k.lower(): k for row in rows[:1] for k in row}
    return [spelled.get(c.lower(), c) for c in out]


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def from_spec(spec: str) -> LakeStore:
    """``lake:<id-or-arn>`` → a LakeStore with a plain boto3 client (Region from the ARN if given)."""
    eds_id, region, _ = parse_event_data_store(spec)
    store = f"lake:{spec}"
    return LakeStore(spec, make_client("cloudtrail", region=region, store=store))
