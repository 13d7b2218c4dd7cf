"""Pure scheduler logic: windows, the ledger decision, retention, late-event reconciliation."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from trailhound.detections.model import Severity
from trailhound.findings import Finding, Window
from trailhound.scheduler.core import (
    DetectionState,
    EventEntry,
    FindingEntry,
    LateSnapshot,
    RunStatus,
    SchedulerConfig,
    decide,
    event_needed,
    finding_needed,
    late_check_window,
    merge_by_fingerprint,
    parse_minute_counts,
    plan_window,
    reconcile_late,
)

T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
CFG = SchedulerConfig()


def finding(fp: str, ids: list[str], first: dt.datetime, last: dt.datetime | None = None,
            det: str = "det_a") -> Finding:
    return Finding(id=fp, detection_id=det, title="t", severity=Severity.HIGH, fingerprint=fp, event_ids=ids,
                   first_seen=first, last_seen=last or first, window=Window(start=first - H, end=first + H))


# --- windows -------------------------------------------------------------------------------------

def test_first_run_covers_the_lookback_and_stops_short_of_the_settle_delay():
    w = plan_window(None, schedule=15 * M, lookback=H, now=T0, config=CFG)
    assert w is not None
    assert w.end == T0 - 5 * M
    assert w.start == T0 - 5 * M - H


def test_window_overlaps_the_previous_one_by_the_lateness_allowance():
    st = DetectionState("det_a", watermark=T0 - 5 * M)
    later = T0 + 15 * M
    w = plan_window(st, schedule=15 * M, lookback=10 * M, now=later, config=CFG)
    assert w is not None
    assert w.end == later - 5 * M
    assert w.start == st.watermark - 20 * M  # reaches back before the watermark


def test_window_is_never_shorter_than_the_lookback():
    st = DetectionState("det_a", watermark=T0 - 5 * M)
    w = plan_window(st, schedule=15 * M, lookback=H, now=T0 + 15 * M, config=CFG)
    assert w is not None and w.length == H


def test_not_due_until_the_schedule_has_passed_with_a_small_jitter_tolerance():
    st = DetectionState("det_a", watermark=T0 - 5 * M)
    assert plan_window(st, schedule=15 * M, lookback=H, now=T0 + 10 * M, config=CFG) is None
    assert plan_window(st, schedule=15 * M, lookback=H, now=T0 + 14 * M + 30 * dt.timedelta(seconds=1),
                       config=CFG) is not None  # fired 30 s early: still due
    assert plan_window(st, schedule=15 * M, lookback=H, now=T0 + 13 * M, config=CFG) is None


def test_clock_behind_the_watermark_is_not_due():
    st = DetectionState("det_a", watermark=T0)
    assert plan_window(st, schedule=15 * M, lookback=H, now=T0 - H, config=CFG) is None


def test_far_behind_catches_up_in_bounded_steps():
    st = DetectionState("det_a", watermark=T0 - dt.timedelta(days=2))
    ends = []
    for _ in range(20):
        w = plan_window(st, schedule=15 * M, lookback=H, now=T0, config=CFG)
        if w is None:
            break
        assert w.end - st.watermark <= CFG.max_window
        assert w.start <= st.watermark - CFG.lateness
        ends.append(w.end)
        st = st.succeeded(w.end, T0)
    assert ends[-1] == T0 - 5 * M
    assert len(ends) == 8  # 47 h 55 min to cover: seven 6 h steps, then a shorter one


def test_state_transitions_keep_the_watermark_on_failure():
    st = DetectionState("det_a", watermark=T0)
    failed = st.failed("boom", T0 + H)
    assert failed.watermark == T0 and failed.last_status is RunStatus.FAILED
    assert failed.consecutive_failures == 1 and failed.version == st.version + 1
    ok = failed.succeeded(T0 + H, T0 + H)
    assert ok.watermark == T0 + H and ok.consecutive_failures == 0 and ok.last_error is None
    assert DetectionState.from_dict(ok.to_dict()) == ok


def test_a_failed_first_run_is_owed_by_the_retries():
    first = plan_window(None, schedule=15 * M, lookback=H, now=T0, config=CFG)
    assert first is not None
    st = DetectionState("det_a").failed("boom", T0, first.start)
    assert st.coverage_start == first.start and st.watermark is None
    retry = plan_window(st, schedule=15 * M, lookback=H, now=T0 + 5 * M, config=CFG)
    assert retry is not None and retry.start == first.start and retry.end == T0
    again = st.failed("boom again", T0 + 5 * M, retry.start)
    assert again.coverage_start == first.start  # the oldest owed start is kept
    days_later = plan_window(again, schedule=15 * M, lookback=H, now=T0 + dt.timedelta(days=3), config=CFG)
    assert days_later is not None and days_later.start == first.start
    assert days_later.end == first.start + H + CFG.max_window  # bounded catch-up
    assert again.succeeded(days_later.end, T0).coverage_start is None


@pytest.mark.parametrize("field,value", [("lateness", -M), ("max_window", dt.timedelta(0)),
                                         ("late_check_horizon", dt.timedelta(seconds=5))])
def test_config_rejects_nonsense(field, value):
    with pytest.raises(ValidationError):
        SchedulerConfig(**{field: value})


# --- the ledger decision -------------------------------------------------------------------------

def test_new_rows_are_raised_and_their_events_recorded():
    d = decide([finding("fp1", ["e1", "e2"], T0)], known_events={}, known_findings={}, threshold=None,
               dedup_period=CFG.dedup_period, now=T0)
    assert [f.fingerprint for f in d.new] == ["fp1"]
    assert {e.event_id for e in d.events} == {"e1", "e2"}
    assert d.claims[0].event_count == 2


def test_overlapping_window_with_the_same_evidence_raises_nothing():
    known = {"e1": EventEntry("e1", "fp1", T0), "e2": EventEntry("e2", "fp1", T0)}
    entry = FindingEntry("det_a", "fp1", T0, T0, T0, 2)
    d = decide([finding("fp1", ["e1", "e2"], T0)], known_events=known, known_findings={"fp1": entry},
               threshold=None, dedup_period=CFG.dedup_period, now=T0 + 15 * M)
    assert d.new == [] and d.attached == [] and d.suppressed == 1 and d.events == []


def test_new_evidence_of_a_raised_fingerprint_is_attached_not_raised():
    known = {"e1": EventEntry("e1", "fp1", T0)}
    entry = FindingEntry("det_a", "fp1", T0, T0, T0, 1)
    d = decide([finding("fp1", ["e1", "e2"], T0, T0 + 2 * M)], known_events=known, known_findings={"fp1": entry},
               threshold=None, dedup_period=CFG.dedup_period, now=T0 + 15 * M)
    assert d.new == []
    assert [(a.fingerprint, a.event_ids) for a in d.attached] == [("fp1", ("e2",))]
    updated = d.updated_entries({"fp1": entry})
    assert updated[0].event_count == 2 and updated[0].last_seen == T0 + 2 * M


def test_same_fingerprint_after_the_dedup_period_is_a_new_finding():
    entry = FindingEntry("det_a", "fp1", T0, T0, T0, 1)
    later = T0 + CFG.dedup_period + H
    d = decide([finding("fp1", ["e9"], later)], known_events={}, known_findings={"fp1": entry}, threshold=None,
               dedup_period=CFG.dedup_period, now=later)
    assert [f.fingerprint for f in d.new] == ["fp1"]


def test_threshold_row_counting_reported_events_is_held_back_until_fresh_evidence_suffices():
    known = {f"e{i}": EventEntry(f"e{i}", "fpX", T0) for i in range(20)}
    # a different fingerprint (say the arbitrary() target changed) over 20 old + 3 new events
    row = finding("fpY", [f"e{i}" for i in range(23)], T0)
    d = decide([row], known_events=known, known_findings={}, threshold=20, dedup_period=CFG.dedup_period, now=T0)
    assert d.new == [] and d.held_back == 1 and d.events == []
    row2 = finding("fpY", [f"e{i}" for i in range(45)], T0)
    d2 = decide([row2], known_events=known, known_findings={}, threshold=20, dedup_period=CFG.dedup_period, now=T0)
    assert [f.fingerprint for f in d2.new] == ["fpY"]
    assert {e.event_id for e in d2.events} == {f"e{i}" for i in range(20, 45)}


def test_rows_of_one_fingerprint_are_merged_before_deciding():
    rows = [finding("fp1", ["e1"], T0), finding("fp1", ["e2"], T0 + M), finding("fp2", ["e3"], T0 - M)]
    merged = merge_by_fingerprint(rows)
    assert [(f.fingerprint, f.event_ids) for f in merged] == [("fp2", ["e3"]), ("fp1", ["e1", "e2"])]
    assert merged[1].first_seen == T0 and merged[1].last_seen == T0 + M
    d = decide(rows, known_events={}, known_findings={}, threshold=None, dedup_period=CFG.dedup_period, now=T0)
    assert len(d.new) == 2 and len(d.events) == 3


def test_an_event_counts_towards_one_finding_only_within_a_run():
    rows = [finding("fp1", ["e1", "e2"], T0), finding("fp2", ["e2"], T0 + M)]
    d = decide(rows, known_events={}, known_findings={}, threshold=None, dedup_period=CFG.dedup_period, now=T0)
    assert [f.fingerprint for f in d.new] == ["fp1"] and d.suppressed == 1


# --- retention ---------------------------------------------------------------------------------------

def test_retention_follows_event_time_not_the_clock():
    reach = CFG.reach(H)
    assert reach == H
    assert event_needed(T0, watermark=T0 + H, reach=reach)
    assert not event_needed(T0, watermark=T0 + H + M, reach=reach)
    entry = FindingEntry("det_a", "fp1", T0, T0, T0, 1)
    assert finding_needed(entry, T0 + H + CFG.dedup_period, reach, CFG.dedup_period)
    assert not finding_needed(entry, T0 + H + CFG.dedup_period + M, reach, CFG.dedup_period)


# --- late events -------------------------------------------------------------------------------------

def test_late_events_are_the_growth_of_sealed_minutes():
    w1 = late_check_window(T0, CFG)
    assert w1 is not None and w1.end == T0 - 25 * M and w1.length == CFG.late_check_horizon
    sealed_minute = w1.end - 10 * M
    first = reconcile_late(None, {sealed_minute: 3}, w1)
    assert first.count == 0 and first.snapshot.counts == {sealed_minute: 3}
    w2 = late_check_window(T0 + 5 * M, CFG)
    assert w2 is not None
    newly_sealed = w1.end + M  # sealed for the first time now: recorded, not judged
    empty_before = w1.end - 20 * M  # counted as 0 when sealed
    r = reconcile_late(first.snapshot, {sealed_minute: 5, newly_sealed: 7, empty_before: 1}, w2)
    assert r.count == 3 and r.by_minute == {sealed_minute: 2, empty_before: 1}
    assert r.snapshot.counts[newly_sealed] == 7


def test_late_check_off_and_clock_backwards():
    assert late_check_window(T0, SchedulerConfig(late_check_horizon=dt.timedelta(0))) is None
    w = late_check_window(T0, CFG)
    assert w is not None
    snap = LateSnapshot(frontier=w.end + H, counted_from=w.start + H, counts={})
    r = reconcile_late(snap, {w.start: 9}, w)
    assert r.count == 0 and r.snapshot == snap


def test_minute_counts_accept_text_from_text_only_engines():
    rows = [{"minute": "2026-11-24 10:05:00.000", "events": "4"}, {"MINUTE": T0, "EVENTS": 2}]
    assert parse_minute_counts(rows) == {dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC): 4, T0: 2}
