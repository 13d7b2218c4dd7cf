"""enrich: the actor's recent activity from the investigation SQL in ``sql/investigations/``."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from trailhound.detections.model import sql_dir
from trailhound.errors import UserInputError
from trailhound.findings import Finding
from trailhound.output import to_jsonable
from trailhound.store.base import EventStore

# Enrichment looks back this far before the finding's first event, and a little past its last.
LOOKBACK = dt.timedelta(hours=24)
LOOKAHEAD = dt.timedelta(hours=1)
TABLES = ("activity_summary", "keys_and_sessions", "sources", "changes")


@lru_cache(maxsize=32)
def investigation_sql(name: str) -> str:
    path = Path(sql_dir()) / "investigations" / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read investigation query ({exc.strerror})") from exc


def subject_params(finding: Finding, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The investigation parameters of a finding; values go into SQL only as escaped literals."""
    return {
        "ACTOR_ARN": finding.actor_arn,
        "PRINCIPAL_ARN": finding.principal_arn(),
        "ACCESS_KEY_ID": finding.access_key_id,
        "SOURCE_IP": finding.source_ip,
        "START_TIME": start,
        "END_TIME": end,
    }


def enrichment_window(finding: Finding, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    end = finding.last_seen + LOOKAHEAD
    if now is not None:
        end = min(end, now)
    return finding.first_seen - LOOKBACK, max(end, finding.last_seen + dt.timedelta(seconds=1))


def enrich(store: EventStore, finding: Finding, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Run every investigation table for the finding's subject; return tables and a summary."""
    start, end = enrichment_window(finding, now)
    params = subject_params(finding, start, end)
    tables: dict[str, list[dict[str, Any]]] = {}
    bytes_scanned = 0
    for name in TABLES:
        result = store.query(investigation_sql(name), params)
        tables[name] = to_jsonable(result.rows)
        bytes_scanned += result.bytes_scanned or 0
    summary_rows = tables["activity_summary"]
    events = sum(int(r["events"]) for r in summary_rows)
    errors = sum(int(r["errors"]) for r in summary_rows)
    summary = {
        "events": events,
        "errors": errors,
        "error_rate": round(errors / events, 3) if events else 0.0,
        "services": sorted({r["service"] for r in summary_rows}),
        "regions": sorted({r["region"] for r in summary_rows}),
        "source_ips": sorted({r["source_ip"] for r in tables["sources"] if r.get("source_ip")}),
        "access_keys": sorted({r["access_key_id"] for r in tables["keys_and_sessions"] if r.get("access_key_id")}),
        "changes": len(tables["changes"]),
    }
    return {"window": {"start": to_jsonable(start), "end": to_jsonable(end)}, "summary": summary,
            "tables": tables, "bytes_scanned": bytes_scanned}


def activity_after(store: EventStore, finding: Finding, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """The actor's calls in [since, until): used by verify."""
    params = subject_params(finding, since, until)
    rows = store.query(investigation_sql("activity_after"), params).rows
    row = rows[0] if rows else {"events": 0, "succeeded": 0}
    return {k: to_jsonable(v) for k, v in row.items()}
