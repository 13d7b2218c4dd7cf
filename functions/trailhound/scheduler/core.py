"""Scheduled detection, exactly once: windows, the ledger decision, late-event accounting.

Pure functions over plain values: no engine, no state store, no clock. ``docs/scheduler.md``
states the rules; in short:

* **Window.** ``end = now - settle`` (capped at ``watermark + max_window`` when far behind:
  catch-up in bounded steps); ``start = min(watermark - lateness, end - lookback)``. A first run
  (no watermark) covers ``[end - lookback, end)``; if it fails, its start is owed by the retries. A detection is due when ``end - watermark``
  reaches its schedule (less a small jitter tolerance). The watermark becomes ``end`` only after
  the run and its ledger commit succeeded.
* **Ledger.** Keyed on (detection, event id) and (detection, fingerprint). A result row whose
  evidence is all in the ledger is dropped. A row with unreported evidence whose fingerprint was
  raised, and whose evidence starts within ``dedup_period`` of that finding's last evidence, is
  *attached* to it (recorded, not raised again). Otherwise it is a new finding — except that a
  threshold detection's row which reached its threshold only by counting already-reported events
  is held back until its unreported evidence alone meets the threshold.
* **Late events.** Events delivered after the allowance frontier (``now - settle - lateness``,
  floored to the minute) passed their eventTime are counted from per-minute event counts taken
  when a minute was sealed and re-taken on later cycles.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trailhound.findings import Finding

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)


def utc(value: dt.datetime) -> dt.datetime:
    """The same instant as an aware UTC datetime (naive values are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor_second(value: dt.datetime) -> dt.datetime:
    return utc(value).replace(microsecond=0)


def floor_minute(value: dt.datetime) -> dt.datetime:
    return utc(value).replace(second=0, microsecond=0)


class SchedulerConfig(BaseModel):
    """Knobs of the scheduler (defaults are the documented ones)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    lateness: dt.timedelta = Field(default=dt.timedelta(minutes=20))  # overlap allowance for late delivery
    settle: dt.timedelta = Field(default=dt.timedelta(minutes=5))  # never query the last few minutes
    max_window: dt.timedelta = Field(default=dt.timedelta(hours=6))  # catch-up step: end - watermark at most
    dedup_period: dt.timedelta = Field(default=dt.timedelta(hours=24))  # same fingerprint = same finding within
    late_check_horizon: dt.timedelta = Field(default=dt.timedelta(hours=6))  # 0 disables the late-event count
    ttl_margin: dt.timedelta = Field(default=dt.timedelta(days=7))  # wall-clock TTL backstop for stored items

    @field_validator("lateness", "settle", "dedup_period", "late_check_horizon", "ttl_margin")
    @classmethod
    def _non_negative(cls, v: dt.timedelta) -> dt.timedelta:
        if v < dt.timedelta(0):
            raise ValueError("must not be negative")
        return v

    @field_validator("max_window")
    @classmethod
    def _positive(cls, v: dt.timedelta) -> dt.timedelta:
        if v <= dt.timedelta(0):
            raise ValueError("must be positive")
        return v

    @model_validator(mode="after")
    def _horizon_covers_allowance(self) -> SchedulerConfig:
        if self.late_check_horizon and self.late_check_horizon < MINUTE:
            raise ValueError("late_check_horizon must be 0 (off) or at least 1 minute")
        return self

    def reach(self, lookback: dt.timedelta) -> dt.timedelta:
        """How far before its watermark a detection's windows may still reach."""
        return max(self.lateness, lookback)


# --- per-detection state and windows -------------------------------------------------------------

class RunStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    NOT_DUE = "not_due"
    DISABLED = "disabled"
    CONFLICT = "conflict"  # another scheduler instance committed this detection first


@dataclass(frozen=True)
class DetectionState:
    """What the scheduler remembers about one detection between cycles."""

    detection_id: str
    watermark: dt.datetime | None = None  # end (exclusive) of the last window that ran successfully
    last_run_at: dt.datetime | None = None  # clock of the last attempt
    last_success_at: dt.datetime | None = None
    last_status: RunStatus | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    version: int = 0  # bumped on every write (optimistic concurrency)
    coverage_start: dt.datetime | None = None  # start of a first window that failed: still owed

    def succeeded(self, window_end: dt.datetime, now: dt.datetime) -> DetectionState:
        return replace(self, watermark=utc(window_end), last_run_at=utc(now), last_success_at=utc(now),
                       last_status=RunStatus.OK, consecutive_failures=0, last_error=None,
                       version=self.version + 1, coverage_start=None)

    def failed(self, error: str, now: dt.datetime, window_start: dt.datetime | None = None) -> DetectionState:
        owed = self.coverage_start
        if self.watermark is None and owed is None and window_start is not None:
            owed = utc(window_start)  # a failed first run: its window is still owed
        return replace(self, last_run_at=utc(now), last_status=RunStatus.FAILED,
                       consecutive_failures=self.consecutive_failures + 1, last_error=error[:500],
                       version=self.version + 1, coverage_start=owed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detection_id": self.detection_id,
            "watermark": _iso(self.watermark),
            "last_run_at": _iso(self.last_run_at),
            "last_success_at": _iso(self.last_success_at),
            "last_status": self.last_status.value if self.last_status else None,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "version": self.version,
            "coverage_start": _iso(self.coverage_start),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetectionState:
        return cls(
            detection_id=str(data["detection_id"]),
            watermark=_parse(data.get("watermark")),
            last_run_at=_parse(data.get("last_run_at")),
            last_success_at=_parse(data.get("last_success_at")),
            last_status=RunStatus(data["last_status"]) if data.get("last_status") else None,
            consecutive_failures=int(data.get("consecutive_failures") or 0),
            last_error=data.get("last_error"),
            version=int(data.get("version") or 0),
            coverage_start=_parse(data.get("coverage_start")),
        )


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime  # exclusive

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start

    def to_dict(self) -> dict[str, str | None]:
        return {"start": _iso(self.start), "end": _iso(self.end)}


def jitter_tolerance(schedule: dt.timedelta) -> dt.timedelta:
    """Slack for a schedule that fires a little early (EventBridge fires within its minute)."""
    return min(MINUTE, schedule / 10)


def plan_window(state: DetectionState | None, *, schedule: dt.timedelta, lookback: dt.timedelta,
                now: dt.datetime, config: SchedulerConfig) -> Window | None:
    """The window to run now, or None when the detection is not due."""
    horizon = floor_second(utc(now) - config.settle)
    watermark = state.watermark if state else None
    if watermark is None:
        owed = state.coverage_start if state else None
        if owed is None:
            return Window(horizon - lookback, horizon)
        end = min(horizon, utc(owed) + lookback + config.max_window)  # retry a failed first run
        return Window(min(utc(owed), end - lookback), end)
    watermark = utc(watermark)
    if horizon - watermark < schedule - jitter_tolerance(schedule):
        return None
    end = min(horizon, watermark + config.max_window)
    start = min(watermark - config.lateness, end - lookback)
    return Window(start, end)


def watermark_lag(state: DetectionState | None, now: dt.datetime) -> dt.timedelta | None:
    """How far the watermark is behind the clock (None: never ran)."""
    if state is None or state.watermark is None:
        return None
    return utc(now) - utc(state.watermark)


# --- the ledger --------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventEntry:
    """An event id that already counted towards a finding of one detection."""

    event_id: str
    fingerprint: str
    event_time: dt.datetime  # upper bound of the event's time (the finding's last_seen)


@dataclass(frozen=True)
class FindingEntry:
    """A fingerprint a detection raised, and the span of the evidence attributed to it."""

    detection_id: str
    fingerprint: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    raised_at: dt.datetime
    event_count: int
    severity: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"detection_id": self.detection_id, "fingerprint": self.fingerprint,
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen),
                "raised_at": _iso(self.raised_at), "event_count": self.event_count, "severity": self.severity}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FindingEntry:
        return cls(detection_id=str(data["detection_id"]), fingerprint=str(data["fingerprint"]),
                   first_seen=_req(data["first_seen"]), last_seen=_req(data["last_seen"]),
                   raised_at=_req(data["raised_at"]), event_count=int(data.get("event_count") or 0),
                   severity=str(data.get("severity") or ""))


@dataclass(frozen=True)
class Attachment:
    """Unreported evidence of a fingerprint already raised: recorded, not raised again."""

    fingerprint: str
    event_ids: tuple[str, ...]
    last_seen: dt.datetime


@dataclass
class Decision:
    """What one successful run of one detection changes."""

    new: list[Finding] = field(default_factory=list)
    attached: list[Attachment] = field(default_factory=list)
    claims: list[FindingEntry] = field(default_factory=list)  # ledger entries for ``new``
    events: list[EventEntry] = field(default_factory=list)  # event ids now counted
    suppressed: int = 0  # rows whose evidence was all reported before
    held_back: int = 0  # threshold rows that met the threshold only with reported events

    def updated_entries(self, known: Mapping[str, FindingEntry]) -> list[FindingEntry]:
        """Ledger entries of the attached fingerprints with their span and count extended."""
        out: dict[str, FindingEntry] = {}
        for a in self.attached:
            base = out.get(a.fingerprint) or known[a.fingerprint]
            out[a.fingerprint] = replace(base, last_seen=max(base.last_seen, utc(a.last_seen)),
                                         event_count=base.event_count + len(a.event_ids))
        return list(out.values())


def merge_by_fingerprint(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: union of the evidence, widest span (first row's other columns)."""
    merged: dict[str, Finding] = {}
    for f in findings:
        prev = merged.get(f.fingerprint)
        if prev is None:
            merged[f.fingerprint] = f
            continue
        ids = list(dict.fromkeys([*prev.event_ids, *f.event_ids]))
        merged[f.fingerprint] = prev.model_copy(update={
            "event_ids": ids, "first_seen": min(prev.first_seen, f.first_seen),
            "last_seen": max(prev.last_seen, f.last_seen)})
    return sorted(merged.values(), key=lambda f: (f.first_seen, f.fingerprint))


def decide(findings: Sequence[Finding], *, known_events: Mapping[str, EventEntry],
           known_findings: Mapping[str, FindingEntry], threshold: int | None,
           dedup_period: dt.timedelta, now: dt.datetime) -> Decision:
    """Split one run's findings into new, attached and already reported (see the module doc)."""
    decision = Decision()
    counted: set[str] = set(known_events)
    for f in merge_by_fingerprint(findings):  # one finding per fingerprint from here on
        fresh = [e for e in dict.fromkeys(f.event_ids) if e not in counted]
        if not fresh:
            decision.suppressed += 1
            continue
        entry = known_findings.get(f.fingerprint)
        if entry is not None and utc(f.first_seen) <= utc(entry.last_seen) + dedup_period:
            decision.attached.append(Attachment(f.fingerprint, tuple(fresh), utc(f.last_seen)))
        elif threshold is not None and len(fresh) < len(set(f.event_ids)) and len(fresh) < threshold:
            decision.held_back += 1
            continue
        else:
            claim = FindingEntry(detection_id=f.detection_id, fingerprint=f.fingerprint,
                                 first_seen=utc(f.first_seen), last_seen=utc(f.last_seen), raised_at=utc(now),
                                 event_count=len(fresh), severity=f.severity.value)
            decision.new.append(f)
            decision.claims.append(claim)
        decision.events.extend(EventEntry(e, f.fingerprint, utc(f.last_seen)) for e in fresh)
        counted.update(fresh)
    return decision


# --- retention ---------------------------------------------------------------------------------

def event_needed(entry_time: dt.datetime, watermark: dt.datetime, reach: dt.timedelta) -> bool:
    """An event entry matters while a future window (start >= watermark - reach) can contain it."""
    return utc(entry_time) >= utc(watermark) - reach


def finding_needed(entry: FindingEntry, watermark: dt.datetime, reach: dt.timedelta,
                   dedup_period: dt.timedelta) -> bool:
    """A fingerprint entry matters while future evidence could still attach to it."""
    return utc(entry.last_seen) + dedup_period >= utc(watermark) - reach


def expires_at(entry_time: dt.datetime, now: dt.datetime, reach: dt.timedelta,
               dedup_period: dt.timedelta, config: SchedulerConfig) -> dt.datetime:
    """Wall-clock expiry for stores with TTL (DynamoDB): logical need plus ``ttl_margin``."""
    return max(utc(entry_time), utc(now)) + reach + dedup_period + config.ttl_margin


# --- late events ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LateSnapshot:
    """Event counts per minute of the sealed range ``[counted_from, frontier)`` as last seen."""

    frontier: dt.datetime
    counted_from: dt.datetime
    counts: dict[dt.datetime, int]

    def to_dict(self) -> dict[str, Any]:
        return {"frontier": _iso(self.frontier), "counted_from": _iso(self.counted_from),
                "counts": {_iso(k): v for k, v in sorted(self.counts.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LateSnapshot:
        return cls(frontier=_req(data["frontier"]), counted_from=_req(data["counted_from"]),
                   counts={_req(k): int(v) for k, v in (data.get("counts") or {}).items()})


@dataclass(frozen=True)
class LateReport:
    count: int  # events delivered after the allowance, found in this cycle
    by_minute: dict[dt.datetime, int]
    snapshot: LateSnapshot


def late_frontier(now: dt.datetime, config: SchedulerConfig) -> dt.datetime:
    """Events older than this and not yet delivered are beyond the allowance."""
    return floor_minute(utc(now) - config.settle - config.lateness)


def late_check_window(now: dt.datetime, config: SchedulerConfig) -> Window | None:
    """The range to count per minute this cycle (None when the check is off)."""
    if not config.late_check_horizon:
        return None
    frontier = late_frontier(now, config)
    return Window(frontier - config.late_check_horizon, frontier)


def reconcile_late(previous: LateSnapshot | None, counts: Mapping[dt.datetime, int],
                   window: Window) -> LateReport:
    """Compare this cycle's per-minute counts with those recorded when the minutes were sealed.

    A minute sealed before (inside the previous ``[counted_from, frontier)``) whose count grew
    received late events; minutes newly sealed this cycle are recorded, not judged.
    """
    now_counts = {floor_minute(k): int(v) for k, v in counts.items()}
    late: dict[dt.datetime, int] = {}
    if previous is not None and window.end >= previous.frontier:
        for minute, n in now_counts.items():
            if previous.counted_from <= minute < previous.frontier:
                grew = n - previous.counts.get(minute, 0)
                if grew > 0:
                    late[minute] = grew
    snapshot = LateSnapshot(frontier=window.end, counted_from=window.start,
                            counts={k: v for k, v in now_counts.items() if window.start <= k < window.end})
    if previous is not None and window.end < previous.frontier:  # clock went backwards: keep the old seal
        snapshot = previous
    return LateReport(count=sum(late.values()), by_minute=late, snapshot=snapshot)


LATE_COUNT_SQL = """SELECT date_trunc('minute', eventTime) AS minute, count(DISTINCT eventID) AS events
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
GROUP BY date_trunc('minute', eventTime)"""


def parse_minute_counts(rows: Iterable[Mapping[str, Any]]) -> dict[dt.datetime, int]:
    """Rows of :data:`LATE_COUNT_SQL` (datetimes, or text from text-only engines) as a mapping."""
    out: dict[dt.datetime, int] = {}
    for row in rows:
        r = {str(k).lower(): v for k, v in row.items()}
        minute = r.get("minute")
        if isinstance(minute, str):
            minute = dt.datetime.fromisoformat(minute.strip().replace("Z", "+00:00").replace(" ", "T"))
        if not isinstance(minute, dt.datetime):
            continue
        out[floor_minute(minute)] = int(r.get("events") or 0)
    return out


# --- serialisation helpers --------------------------------------------------------------------------

def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return utc(value).isoformat().replace("+00:00", "Z")


def _parse(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return utc(value)
    return utc(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _req(value: Any) -> dt.datetime:
    parsed = _parse(value)
    if parsed is None:
        raise ValueError("missing timestamp")
    return parsed


iso = _iso
parse_time = _parse
