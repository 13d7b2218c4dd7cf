"""One scheduler cycle: due detections → bounded parallel queries → ledger → state → outbox → sinks.

``run_cycle`` is the single entry point used by ``trailhound run``/``watch`` and by the detect
Lambda. The event store, the state store and the publisher are injected; the clock is a parameter.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from trailhound.config import Settings
from trailhound.detections.model import Detection
from trailhound.detections.runner import run_detection, threshold_for, tuning_for
from trailhound.findings import Finding
from trailhound.scheduler.core import (
    LATE_COUNT_SQL,
    Attachment,
    DetectionState,
    LateReport,
    RunStatus,
    SchedulerConfig,
    Window,
    decide,
    late_check_window,
    parse_minute_counts,
    plan_window,
    reconcile_late,
    utc,
    watermark_lag,
)
from trailhound.scheduler.publish import Publisher
from trailhound.scheduler.state import Commit, OutboxItem, StateConflictError, StateStore
from trailhound.store.base import Engine, EventStore, QueryResult, window_params

log = logging.getLogger("trailhound.scheduler.cycle")

# Queries one engine may have in flight (CloudTrail Lake: 10 queued or running per account and
# Region; DuckDB: one connection, one query at a time).
ENGINE_CONCURRENCY = {Engine.DUCKDB: 1, Engine.LAKE: 10, Engine.ATHENA: 10}


class MeteredStore:
    """An ``EventStore`` that counts the queries and bytes scanned passing through it."""

    def __init__(self, inner: EventStore):
        self.inner = inner
        self.engine = inner.engine
        self.queries = 0
        self.bytes_scanned = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def compile(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        return self.inner.compile(sql, params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        self.queries += 1
        result = self.inner.query(sql, params)
        self.bytes_scanned += int(result.bytes_scanned or 0)
        return result


@dataclass
class DetectionRun:
    """What happened to one detection in one cycle."""

    detection_id: str
    status: RunStatus
    window: Window | None = None
    new: list[Finding] = field(default_factory=list)
    attached: list[Attachment] = field(default_factory=list)
    suppressed: int = 0
    held_back: int = 0
    lost: int = 0  # fingerprints another scheduler instance claimed first
    error: str | None = None
    queries: int = 0
    bytes_scanned: int = 0
    elapsed_s: float = 0.0
    watermark: dt.datetime | None = None  # after the cycle

    def summary(self) -> dict[str, Any]:
        return {
            "detection": self.detection_id, "status": self.status.value,
            "window": self.window.to_dict() if self.window else None, "new": len(self.new),
            "attached": sum(len(a.event_ids) for a in self.attached), "suppressed": self.suppressed,
            "held_back": self.held_back, "lost": self.lost, "error": self.error, "queries": self.queries,
            "bytes_scanned": self.bytes_scanned, "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass
class CycleResult:
    now: dt.datetime
    runs: list[DetectionRun] = field(default_factory=list)
    late: LateReport | None = None
    late_error: str | None = None
    late_queries: int = 0
    late_bytes: int = 0
    published: int = 0  # outbox items fully delivered this cycle
    pending: int = 0  # outbox items still waiting for a sink
    max_lag: dt.timedelta | None = None

    @property
    def new_findings(self) -> list[Finding]:
        out = [f for r in self.runs for f in r.new]
        out.sort(key=lambda f: (-f.severity.rank, f.first_seen, f.detection_id))
        return out

    @property
    def queries(self) -> int:
        return sum(r.queries for r in self.runs) + self.late_queries

    @property
    def bytes_scanned(self) -> int:
        return sum(r.bytes_scanned for r in self.runs) + self.late_bytes

    @property
    def late_events(self) -> int:
        return self.late.count if self.late else 0

    def count(self, status: RunStatus) -> int:
        return sum(1 for r in self.runs if r.status is status)

    def summary(self) -> dict[str, Any]:
        return {
            "now": utc(self.now).isoformat().replace("+00:00", "Z"),
            "due": sum(1 for r in self.runs if r.window is not None),
            "ok": self.count(RunStatus.OK), "failed": self.count(RunStatus.FAILED),
            "conflicts": self.count(RunStatus.CONFLICT),
            "new_findings": len(self.new_findings),
            "attached_events": sum(len(a.event_ids) for r in self.runs for a in r.attached),
            "queries": self.queries, "bytes_scanned": self.bytes_scanned,
            "late_events": self.late_events, "late_error": self.late_error,
            "published": self.published, "pending": self.pending,
            "max_watermark_lag_s": int(self.max_lag.total_seconds()) if self.max_lag is not None else None,
        }


def default_concurrency(engine: Engine) -> int:
    return ENGINE_CONCURRENCY.get(engine, 1)


def run_cycle(store: EventStore, detections: Sequence[Detection], state: StateStore, *, now: dt.datetime,
              config: SchedulerConfig | None = None, settings: Settings | None = None,
              publisher: Publisher | None = None, max_concurrency: int | None = None) -> CycleResult:
    """Run every due detection once, as if the clock read ``now``; see ``docs/scheduler.md``."""
    config = config or state.config
    settings = settings if settings is not None else Settings()
    now = utc(now)
    sinks = publisher.sinks if publisher is not None else ()
    limit = max_concurrency or default_concurrency(store.engine)
    if store.engine is Engine.DUCKDB:
        limit = 1  # one DuckDB connection runs one query at a time
    result = CycleResult(now=now)
    with state.lock():
        states = state.load_states([d.id for d in detections])
        plans: list[tuple[Detection, DetectionState | None, Window]] = []
        for det in detections:
            st = states.get(det.id)
            if not tuning_for(det, settings).enabled:
                result.runs.append(DetectionRun(det.id, RunStatus.DISABLED, watermark=st.watermark if st else None))
                continue
            window = plan_window(st, schedule=det.header.schedule_delta, lookback=det.header.lookback_delta,
                                 now=now, config=config)
            if window is None:
                result.runs.append(DetectionRun(det.id, RunStatus.NOT_DUE, watermark=st.watermark if st else None))
                continue
            plans.append((det, st, window))
        if plans:
            with ThreadPoolExecutor(max_workers=max(1, min(limit, len(plans))),
                                    thread_name_prefix="trailhound-detect") as pool:
                futures = [(pool.submit(_query, store, det, window, settings), det, st, window)
                           for det, st, window in plans]
                for fut, det, st, window in futures:  # commit in plan order: deterministic state writes
                    result.runs.append(_settle(fut, det, st, window, state, config, settings, sinks, now))
        _check_late(store, state, config, now, result)
        if publisher is not None and sinks:
            _publish(state, publisher, result)
        final = state.load_states([d.id for d in detections])
    enabled = {r.detection_id for r in result.runs if r.status is not RunStatus.DISABLED}
    lags = [lag for d in detections if d.id in enabled and (lag := watermark_lag(final.get(d.id), now)) is not None]
    result.max_lag = max(lags) if lags else None
    for r in result.runs:
        if r.status is RunStatus.FAILED:
            log.error("detection failed; its window will be retried next cycle", extra=r.summary())
        elif r.window is not None:
            log.info("detection ran", extra=r.summary())
    log.info("cycle finished", extra=result.summary())
    return result


def _query(store: EventStore, det: Detection, window: Window,
           settings: Settings) -> tuple[list[Finding], MeteredStore, float]:
    metered = MeteredStore(store)
    started = time.perf_counter()
    try:
        findings = run_detection(metered, det, window.start, window.end, settings=settings)
    except BaseException as exc:
        exc.metered = metered  # type: ignore[attr-defined]
        raise
    return findings, metered, time.perf_counter() - started


def _settle(fut: Future[tuple[list[Finding], MeteredStore, float]], det: Detection, st: DetectionState | None,
            window: Window, state: StateStore, config: SchedulerConfig, settings: Settings,
            sinks: tuple[str, ...], now: dt.datetime) -> DetectionRun:
    """Apply one detection's outcome: ledger + state on success, failure count otherwise."""
    run = DetectionRun(det.id, RunStatus.OK, window=window)
    base = st or DetectionState(det.id)
    expected = st.version if st else None
    try:
        findings, metered, elapsed = fut.result()
    except Exception as exc:  # a query that fails loses nothing: the watermark stays
        spent: MeteredStore | None = getattr(exc, "metered", None)
        run.status, run.error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
        run.queries = spent.queries if spent else 1
        run.bytes_scanned = spent.bytes_scanned if spent else 0
        run.watermark = base.watermark
        try:
            state.save_state(base.failed(run.error, now, window.start), expected)
        except Exception as save_exc:  # noqa: BLE001 - report, the watermark has not moved either way
            log.error("could not record the failure", extra={"detection": det.id, "error": str(save_exc)})
        return run
    run.queries, run.bytes_scanned, run.elapsed_s = metered.queries, metered.bytes_scanned, elapsed
    try:
        known_events, known_findings = state.lookup(
            det.id, [e for f in findings for e in f.event_ids], [f.fingerprint for f in findings])
        decision = decide(findings, known_events=known_events, known_findings=known_findings,
                          threshold=threshold_for(det, tuning_for(det, settings)),
                          dedup_period=config.dedup_period, now=now)
        new_state = base.succeeded(window.end, now)
        outbox = [OutboxItem(det.id, f.fingerprint, f.to_event_detail(), sinks, now)
                  for f in decision.new] if sinks else []
        committed = state.commit(det.id, Commit(
            state=new_state, expected_version=expected, claims=decision.claims,
            updates=decision.updated_entries(known_findings), events=decision.events, outbox=outbox,
            reach=config.reach(det.header.lookback_delta), dedup_period=config.dedup_period, now=now))
    except StateConflictError as exc:
        run.status, run.error, run.watermark = RunStatus.CONFLICT, str(exc), base.watermark
        return run
    except Exception as exc:  # state store down: nothing moved; the window is retried next cycle
        run.status, run.error, run.watermark = RunStatus.FAILED, f"{type(exc).__name__}: {exc}", base.watermark
        try:
            state.save_state(base.failed(run.error, now, window.start), expected)
        except Exception:  # noqa: BLE001 - the store is down; the failure is in the cycle result and logs
            pass
        return run
    run.new = [f for f in decision.new if f.fingerprint not in committed.lost]
    run.lost = len(committed.lost)
    run.attached, run.suppressed, run.held_back = decision.attached, decision.suppressed, decision.held_back
    run.watermark = new_state.watermark
    return run


def _check_late(store: EventStore, state: StateStore, config: SchedulerConfig, now: dt.datetime,
                result: CycleResult) -> None:
    window = late_check_window(now, config)
    if window is None:
        return
    metered = MeteredStore(store)
    try:
        rows = metered.query(LATE_COUNT_SQL, window_params(window.start, window.end)).rows
        report = reconcile_late(state.load_late(), parse_minute_counts(rows), window)
        state.save_late(report.snapshot)
    except Exception as exc:  # noqa: BLE001 - the count is a report; detection results stand
        result.late_error = f"{type(exc).__name__}: {exc}"
        log.warning("late-event count failed", extra={"error": result.late_error})
        return
    finally:
        result.late_queries, result.late_bytes = metered.queries, metered.bytes_scanned
    result.late = report
    if report.count:
        log.warning("events delivered later than the allowance: detections may not have seen them", extra={
            "late_events": report.count, "lateness_s": int(config.lateness.total_seconds()),
            "minutes": {k.isoformat().replace("+00:00", "Z"): v for k, v in sorted(report.by_minute.items())}})


def _publish(state: StateStore, publisher: Publisher, result: CycleResult) -> None:
    items = state.pending()
    if not items:
        return
    remaining = publisher.publish(items)
    for item in items:
        left = remaining.get((item.detection_id, item.fingerprint), ())
        state.delivered(item, left)
        if left:
            result.pending += 1
        else:
            result.published += 1
    if result.pending:
        log.warning("findings not yet accepted by every sink; retried next cycle", extra={"pending": result.pending})
