"""Run detections over a window of an event store and turn their rows into findings.

The runner binds the window (and the threshold) as parameters, checks every row against the
output contract, applies the configured tuning (enabled, allowlists, threshold override) outside
the SQL, and builds :class:`~trailhound.findings.Finding`s with stable fingerprints.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
import json
import os
import queue
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from trailhound.config import DetectionTuning, Settings
from trailhound.detections.model import CONTRACT_COLUMNS, ColumnType, Detection
from trailhound.errors import DetectionFormatError, SqlError, UserInputError
from trailhound.findings import SCHEMA_VERSION, Finding, ProposedResponse, Window, fingerprint
from trailhound.store.base import Engine, EventStore, QueryResult

if TYPE_CHECKING:
    from trailhound.store.local import LocalStore


class DetectionOutputError(DetectionFormatError):
    """A detection's result breaks the output contract (names the detection and the column)."""


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from trailhound.config import settings as load

    return load()


def tuning_for(detection: Detection, settings: Settings | None) -> DetectionTuning:
    return _settings(settings).detections.get(detection.id) or DetectionTuning()


def threshold_for(detection: Detection, tuning: DetectionTuning) -> int | None:
    t = detection.header.threshold
    if t is None:
        return None
    return tuning.threshold if tuning.threshold is not None else t.min


def query_params(detection: Detection, start: dt.datetime, end: dt.datetime,
                 tuning: DetectionTuning | None = None) -> dict[str, Any]:
    """The parameters the detection's placeholders take for this window."""
    params: dict[str, Any] = {"START_TIME": _utc(start), "END_TIME": _utc(end)}
    threshold = threshold_for(detection, tuning or DetectionTuning())
    if threshold is not None:
        params["THRESHOLD"] = threshold
    return params


def run_detection(store: EventStore, detection: Detection, start: dt.datetime, end: dt.datetime, *,
                  settings: Settings | None = None) -> list[Finding]:
    """Findings of one detection over ``[start, end)``; a disabled detection raises none."""
    s = _settings(settings)
    tuning = tuning_for(detection, s)
    if not tuning.enabled:
        return []
    result = execute(store, detection, start, end, tuning=tuning)
    return findings_from_result(detection, result, start, end, tuning=tuning, known_accounts=s.known_accounts)


def run_detections(store: EventStore, detections: Iterable[Detection], start: dt.datetime,
                   end: dt.datetime, *, settings: Settings | None = None,
                   workers: int | None = None) -> list[Finding]:
    """Findings of every detection, ordered by severity (highest first), then first_seen.

    On the local store, ``workers`` detections (default :data:`LOCAL_WORKERS`) run at a time, each
    on its own cursor of the same database: DuckDB runs queries side by side and releases the GIL
    while it does, so one detection's scan overlaps another's single-threaded phases and the
    Python work of turning rows into findings. Other engines run one detection after another.
    An error is raised for the first failing detection in the given order, as when sequential.
    """
    s = _settings(settings)
    todo = list(detections)
    handles = _local_cursors(store, min(workers or LOCAL_WORKERS, len(todo)))
    findings: list[Finding] = []
    if not handles:
        for detection in todo:
            findings.extend(run_detection(store, detection, start, end, settings=s))
    else:
        free: queue.SimpleQueue[LocalStore] = queue.SimpleQueue()
        for handle in handles:
            free.put(handle)

        def one(detection: Detection) -> list[Finding]:
            handle = free.get()
            try:
                return run_detection(handle, detection, start, end, settings=s)
            finally:
                free.put(handle)

        pool = ThreadPoolExecutor(max_workers=len(handles), thread_name_prefix="detect")
        try:
            for found in pool.map(one, todo):
                findings.extend(found)
        except BaseException:
            # An error or Ctrl-C: start nothing more and stop the queries still running (the
            # signal reaches this thread only), then let the workers unwind.
            pool.shutdown(wait=False, cancel_futures=True)
            for handle in handles:
                handle.con.interrupt()
            raise
        finally:
            pool.shutdown(wait=True)
            for handle in handles:
                handle.close()
    findings.sort(key=lambda f: (-f.severity.rank, f.first_seen, f.detection_id))
    return findings


# Detections run at a time on the local store (see run_detections): two on this project's 2-core
# reference machine; more queries than cores only adds contention.
LOCAL_WORKERS = max(1, min(4, os.cpu_count() or 1))


def _local_cursors(store: EventStore, workers: int) -> list[LocalStore]:
    """``workers`` stores on cursors of ``store``'s DuckDB database (same data, same session
    time zone), or [] when the store is not the local one or one worker is enough."""
    if workers < 2 or store.engine is not Engine.DUCKDB:
        return []
    from trailhound.store.local import LocalStore  # duckdb: only when the store already is local

    if not isinstance(store, LocalStore):
        return []
    return [store.cursor() for _ in range(workers)]


def execute(store: EventStore, detection: Detection, start: dt.datetime, end: dt.datetime, *,
            tuning: DetectionTuning | None = None) -> QueryResult:
    """Run the detection's SQL for the window; an engine error names the detection."""
    if _utc(end) <= _utc(start):
        raise UserInputError(f"window [{start}, {end}) is empty: the end must be after the start")
    try:
        return store.query(detection.sql, query_params(detection, start, end, tuning))
    except SqlError as exc:
        raise SqlError(f"detection {detection.id} ({detection.path}): {exc}") from exc


def findings_from_result(detection: Detection, result: QueryResult, start: dt.datetime, end: dt.datetime,
                         *, tuning: DetectionTuning | None = None,
                         known_accounts: Iterable[str] = ()) -> list[Finding]:
    tuning = tuning or DetectionTuning()
    check_columns(detection, result.columns)
    threshold = threshold_for(detection, tuning)
    threshold_column = (detection.header.threshold.column
                        if threshold is not None and detection.header.threshold is not None else None)
    allowlisted = bool(tuning.allow_principals or tuning.allow_source_ips)
    known = tuple(known_accounts)
    lower = any(c != c.lower() for c in result.columns)
    build = finding_builder(detection, Window(start=start, end=end))
    out: list[Finding] = []
    for index, raw in enumerate(result.rows):
        row = _coerce(detection, {k.lower(): v for k, v in raw.items()} if lower else dict(raw), index)
        if threshold_column is not None:
            value = row.get(threshold_column)
            if isinstance(value, (int, float)) and value < threshold:  # type: ignore[operator]
                continue
        if (allowlisted and is_allowed(row, tuning)) or (known and only_known_accounts(row, known)):
            continue
        out.append(build(row))
    out.sort(key=lambda f: (f.first_seen, f.fingerprint, f.event_ids))
    return out


# --- the output contract ---------------------------------------------------------------------

def check_columns(detection: Detection, columns: Sequence[str]) -> None:
    present = {c.lower() for c in columns}
    needed = list(CONTRACT_COLUMNS) + list(detection.header.dedup_key)
    if detection.header.response:
        needed += list(detection.header.response.params.values())
    if detection.header.threshold:
        needed.append(detection.header.threshold.column)
    missing = [c for c in dict.fromkeys(needed) if c not in present]
    if missing:
        raise DetectionOutputError(f"detection {detection.id} ({detection.path}): result has no column "
                                   + ", ".join(missing))


_TRINO_ARRAY = re.compile(r"^\[(.*)\]$", re.S)


def _as_array(value: Any) -> list[str] | None:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None] if all(isinstance(v, str) or v is None for v in value) else None
    if isinstance(value, str):  # engines that return text (CloudTrail Lake): JSON or Trino rendering
        try:
            parsed = json.loads(value)
        except ValueError:
            m = _TRINO_ARRAY.match(value.strip())
            if not m:
                return None
            inner = m.group(1).strip()
            return [v.strip() for v in inner.split(",")] if inner else []
        return _as_array(parsed) if isinstance(parsed, list) else None
    return None


def _as_timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, str):
        try:
            return _utc(dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


_VARCHAR_COLUMNS = tuple(c for c, t in CONTRACT_COLUMNS.items() if t is ColumnType.VARCHAR)
_TIMESTAMP_COLUMNS = tuple(c for c, t in CONTRACT_COLUMNS.items() if t is ColumnType.TIMESTAMP)
_ARRAY_COLUMNS = tuple(c for c, t in CONTRACT_COLUMNS.items() if t is ColumnType.ARRAY)


def coerce_row(detection: Detection, raw: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """Check (and normalise text from text-only engines) the contract columns of one row."""
    return _coerce(detection, {k.lower(): v for k, v in raw.items()}, index)


def _coerce(detection: Detection, row: dict[str, Any], index: int) -> dict[str, Any]:
    """:func:`coerce_row` on a row already keyed by lower-case names, updated in place."""
    for col in _VARCHAR_COLUMNS:
        value = row.get(col)
        if value is not None and type(value) is not str and not isinstance(value, str):
            _mistyped(detection, col, ColumnType.VARCHAR, value, index)
    for col in _TIMESTAMP_COLUMNS:
        value = row.get(col)
        if type(value) is dt.datetime and value.tzinfo is None:
            row[col] = value.replace(tzinfo=dt.UTC)  # engines return naive UTC
            continue
        ts = _as_timestamp(value)
        if ts is None:
            _mistyped(detection, col, ColumnType.TIMESTAMP, value, index)
        row[col] = ts
    for col in _ARRAY_COLUMNS:
        value = row.get(col)
        if type(value) is list and value and all(type(v) is str for v in value):
            continue  # the common case: DuckDB's list of eventIDs
        ids = _as_array(value)
        if not ids:
            _mistyped(detection, col, ColumnType.ARRAY, value, index, "a non-empty array of eventIDs")
        row[col] = ids
    return row


def _mistyped(detection: Detection, col: str, typ: ColumnType, value: Any, index: int,
              expected: str | None = None) -> None:
    raise DetectionOutputError(
        f"detection {detection.id} ({detection.path}): column {col} of row {index} is "
        f"{type(value).__name__} {str(value)[:60]!r}; expected {expected or typ.value}"
    )


# --- tuning ----------------------------------------------------------------------------------

def _principals(row: Mapping[str, Any]) -> list[str]:
    return [v for v in (row.get("actor_arn"), row.get("principal_arn")) if isinstance(v, str) and v]


def _ip_matches(ip: str, pattern: str) -> bool:
    if "/" in pattern:
        try:
            return ipaddress.ip_address(ip) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatch.fnmatchcase(ip, pattern)


def is_allowed(row: Mapping[str, Any], tuning: DetectionTuning) -> bool:
    """True when the configured allowlists cover this row's principal or source IP."""
    if tuning.allow_principals and any(
        fnmatch.fnmatchcase(arn, glob) for arn in _principals(row) for glob in tuning.allow_principals
    ):
        return True
    ip = row.get("source_ip")
    return bool(tuning.allow_source_ips and isinstance(ip, str)
                and any(_ip_matches(ip, p) for p in tuning.allow_source_ips))


EXTERNAL_ACCOUNT_COLUMN = "external_account"


def only_known_accounts(row: Mapping[str, Any], known_accounts: Iterable[str]) -> bool:
    """True when the row's ``external_account`` (comma-separated account ids) lists only accounts
    from ``Settings.known_accounts``: sharing with or trusting a known account is not a finding.
    ``*`` (public) is never known."""
    value = row.get(EXTERNAL_ACCOUNT_COLUMN)
    known = set(known_accounts)
    if not isinstance(value, str) or not value.strip() or not known:
        return False
    accounts = {a.strip() for a in value.split(",") if a.strip()}
    return bool(accounts) and accounts <= known


# --- findings --------------------------------------------------------------------------------

def build_finding(detection: Detection, row: Mapping[str, Any], start: dt.datetime, end: dt.datetime,
                  *, window: Window | None = None) -> Finding:
    """A finding from a row already checked by :func:`coerce_row` (so no second validation)."""
    return finding_builder(detection, window or Window(start=start, end=end))(row)


_NOT_NULLABLE = frozenset(("event_ids", "first_seen", "last_seen"))


def finding_builder(detection: Detection, window: Window) -> Callable[[Mapping[str, Any]], Finding]:
    """``build_finding`` for many rows of one detection: what every finding shares is made once."""
    h = detection.header
    dedup_key, contract = h.dedup_key, CONTRACT_COLUMNS
    attack, techniques = tuple(h.attack), tuple(h.techniques)
    action = h.response.action if h.response else None
    param_columns = tuple(h.response.params.items()) if h.response else ()
    # Findings are shallow copies of one prototype with the per-row fields replaced (pydantic's
    # model_copy: about half the cost of model_construct, which re-walks every field per row).
    proto = Finding.model_construct(
        id="", detection_id=h.id, title=h.title, severity=h.severity, fingerprint="", attack=[], techniques=[],
        event_ids=[], first_seen=window.start, last_seen=window.start, extra={}, response=ProposedResponse(),
        window=window, schema_version=SCHEMA_VERSION, **dict.fromkeys(c for c in contract if c not in _NOT_NULLABLE))

    def build(row: Mapping[str, Any]) -> Finding:
        fp = fingerprint(h.id, dedup_key, row)
        data: dict[str, Any] = {c: row.get(c) for c in contract}
        data["event_ids"] = list(row["event_ids"])
        data["id"] = data["fingerprint"] = fp
        data["attack"], data["techniques"] = list(attack), list(techniques)
        data["extra"] = {k: v for k, v in row.items() if k not in contract}
        data["response"] = ProposedResponse.model_construct(
            action=action, params={name: row.get(col) for name, col in param_columns}, runbook=h.runbook)
        return proto.model_copy(update=data)

    return build


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
