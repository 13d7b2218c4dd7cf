"""Exactly once, end to end: real detections on the real local store, events delivered late.

Events are ingested progressively, as CloudTrail would deliver them (eventTime + a delay), and
scheduler cycles run between deliveries. Whatever the delays (within the allowance) and the cycle
times, every event a detection flags lands in exactly one finding and no fingerprint is raised twice.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trailhound.config import Settings
from trailhound.detections.model import Detection, detections_dir, fixtures_dir, load_detection
from trailhound.detections.runner import run_detection
from trailhound.errors import QueryFailedError
from trailhound.findings import Finding
from trailhound.scheduler.core import Attachment, RunStatus, SchedulerConfig, utc
from trailhound.scheduler.cycle import CycleResult, run_cycle
from trailhound.scheduler.state import LocalFileState
from trailhound.store.local import LocalStore

M = dt.timedelta(minutes=1)
CYCLE = 5 * M


def load_detections(ids: Sequence[str]) -> list[Detection]:
    """Just these detections (loading the whole pack parses every file)."""
    return [load_detection(detections_dir() / f"{i}.sql") for i in ids]


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["Records"]


@dataclass
class Replay:
    """What a replay raised: new findings, evidence attached to earlier ones, every cycle's result."""

    raised: list[Finding] = field(default_factory=list)
    attached: list[tuple[str, Attachment]] = field(default_factory=list)
    cycles: list[CycleResult] = field(default_factory=list)

    def attributed(self) -> dict[tuple[str, str], int]:
        """(detection, event id) → how many findings (raised or extended) it counts in."""
        out: dict[tuple[str, str], int] = {}
        for f in self.raised:
            for e in set(f.event_ids):
                out[(f.detection_id, e)] = out.get((f.detection_id, e), 0) + 1
        for det, a in self.attached:
            for e in a.event_ids:
                out[(det, e)] = out.get((det, e), 0) + 1
        return out


def replay(store: LocalStore, detections: Sequence[Detection], state: LocalFileState,
           deliveries: Sequence[tuple[dt.datetime, dict]], cycle_times: Iterable[dt.datetime],
           workdir: Path, *, config: SchedulerConfig) -> Replay:
    """Deliver records by their delivery time and run a cycle at each of ``cycle_times``.

    Stops once everything is delivered and every detection has run a window ending after the
    last delivery (so it ran after that delivery).
    """
    pending = sorted(deliveries, key=lambda d: d[0])
    last_delivery = pending[-1][0]
    out = Replay()
    i = 0
    for n, now in enumerate(cycle_times):
        batch = []
        while i < len(pending) and pending[i][0] <= now:
            batch.append(pending[i][1])
            i += 1
        if batch:  # one CloudTrail delivery file per cycle
            p = workdir / f"delivery_{n:05d}.json"
            p.write_text(json.dumps({"Records": batch}), encoding="utf-8")
            summary = store.ingest([p])
            assert not summary.rejects, summary.rejects
        res = run_cycle(store, detections, state, now=now, config=config, settings=Settings())
        out.cycles.append(res)
        out.raised += res.new_findings
        out.attached += [(r.detection_id, a) for r in res.runs for a in r.attached]
        states = state.load_states([d.id for d in detections])
        if i == len(pending) and len(states) == len(detections) \
                and all(s.watermark is not None and s.watermark > last_delivery for s in states.values()):
            return out
    raise AssertionError("cycle times ran out before every event was covered")


def one_shot(store: LocalStore, detections: Sequence[Detection]) -> list[Finding]:
    first, last = store.time_range()
    start, end = utc(first), utc(last) + dt.timedelta(seconds=1)
    return [f for d in detections for f in run_detection(store, d, start, end, settings=Settings())]


def check_exactly_once(result: Replay, reference: Sequence[Finding], *, every_event: bool = True) -> None:
    """No fingerprint twice, no event in two findings, every one-shot fingerprint raised; and with
    ``every_event``, every event the one-shot run flags counted in a scheduled finding.

    ``every_event`` does not hold for detections whose evidence depends on where the window starts
    (``activity_in_unused_region``: "first seen at or after $START_TIME"): a one-shot window over a
    whole day keeps a region "new" all day, a scheduled window only in the run that first sees it.
    The finding is raised either way; the done-when criterion is about findings.
    """
    fps = [f.fingerprint for f in result.raised]
    assert len(fps) == len(set(fps)), "a fingerprint was raised twice"
    counts = result.attributed()
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n > 1}
    if every_event:
        flagged = {(f.detection_id, e) for f in reference for e in f.event_ids}
        missing = flagged - set(counts)
        assert not missing, f"events a one-shot detect flags are in no scheduled finding: {sorted(missing)[:5]}"
    missed = {f.fingerprint for f in reference} - set(fps)
    assert not missed, [(f.detection_id, f.actor_arn, f.target) for f in reference if f.fingerprint in missed]


def five_minute_cycles(start: dt.datetime, deliveries: Sequence[tuple[dt.datetime, dict]],
                       quiet_after: dt.timedelta) -> Iterable[dt.datetime]:
    """Every 5 minutes, jumping over long quiet gaps (the scheduler then catches up in steps)."""
    times = sorted(t for t, _ in deliveries)
    now = start
    while True:
        yield now
        nxt = now + CYCLE
        upcoming = [t for t in times if t > now]
        recent = [t for t in times if t <= now]
        if upcoming and recent and nxt - max(recent) > quiet_after and upcoming[0] - nxt > quiet_after:
            nxt = upcoming[0] - CYCLE
        now = nxt


def shifted(path: Path, to: dt.datetime) -> list[dict]:
    """The file's records moved in time so the first one happens at ``to`` (spacing kept)."""
    recs = copy.deepcopy(_records(path))
    base = min(_time(r["eventTime"]) for r in recs)
    for r in recs:
        r["eventTime"] = (to + (_time(r["eventTime"]) - base)).isoformat().replace("+00:00", "Z")
    return recs


# --- property: random delays within the allowance, random cycle times --------------------------------

PROPERTY_DETECTIONS = ("cloudtrail_logging_stopped", "ec2_password_data_retrieval_burst",
                       "ssm_start_session_multiple_instances")
BASE = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
ALLOWANCE = SchedulerConfig().lateness


@pytest.fixture(scope="module")
def property_pack() -> tuple[list[Detection], list[Path]]:
    dets = load_detections(PROPERTY_DETECTIONS)
    files = [p for d in PROPERTY_DETECTIONS for p in sorted((fixtures_dir() / d).glob("positive_*.json"))]
    if len(files) < len(PROPERTY_DETECTIONS):
        pytest.skip("the property pack's positive fixtures are not there")
    return dets, files


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_every_flagged_event_lands_in_exactly_one_finding(property_pack, data):
    detections, files = property_pack
    offsets = data.draw(st.lists(st.integers(0, 40), min_size=len(files), max_size=len(files)), label="file offsets (min)")
    gaps = data.draw(st.lists(st.integers(60, 50 * 60), min_size=3, max_size=12), label="cycle gaps (s)")
    deliveries: list[tuple[dt.datetime, dict]] = []
    for path, off in zip(files, offsets, strict=True):
        for r in shifted(path, BASE + off * M):
            delay = data.draw(st.integers(0, int(ALLOWANCE.total_seconds())), label="delivery delay (s)")
            deliveries.append((_time(r["eventTime"]) + dt.timedelta(seconds=delay), r))
    first_cycle = BASE - dt.timedelta(seconds=data.draw(st.integers(0, 1800), label="first cycle before"))

    def cycle_times() -> Iterable[dt.datetime]:
        now, k = first_cycle, 0
        while True:
            yield now
            now += dt.timedelta(seconds=gaps[k % len(gaps)])
            k += 1

    config = SchedulerConfig(max_window=dt.timedelta(hours=1))  # long gaps exercise the catch-up steps
    with tempfile.TemporaryDirectory() as tmp, LocalStore(":memory:") as store:
        state = LocalFileState(Path(tmp) / "state.json", config=config)
        result = replay(store, detections, state, deliveries, cycle_times(), Path(tmp), config=config)
        reference = one_shot(store, detections)
    assert reference, "the fixtures raise findings in a one-shot run"
    check_exactly_once(result, reference)
    assert sum(c.late_events for c in result.cycles) == 0, "delays within the allowance are never late"


# --- a failed query loses nothing -----------------------------------------------------------------------

class FlakyStore(LocalStore):
    """The local store, except that queries containing ``marker`` fail ``times`` times."""

    def __init__(self, path: str, *, marker: str, times: int = 1):
        super().__init__(path)
        self.marker, self.failures_left = marker, times

    def query(self, sql, params=None):
        if self.marker in sql and self.failures_left:
            self.failures_left -= 1
            raise QueryFailedError("injected engine failure", status="FAILED")
        return super().query(sql, params)


def test_a_failed_query_loses_nothing_the_next_cycle_covers_its_window(tmp_path):
    dets = load_detections(["cloudtrail_logging_stopped", "cloudtrail_trail_deleted"])
    store = FlakyStore(":memory:", marker="'StopLogging'")
    store.ingest([fixtures_dir() / "cloudtrail_logging_stopped", fixtures_dir() / "cloudtrail_trail_deleted"])
    state = LocalFileState(tmp_path / "state.json")
    now = dt.datetime(2026, 11, 24, 11, 15, tzinfo=dt.UTC)  # first window [10:10, 11:10): both StopLogging

    first = run_cycle(store, dets, state, now=now, settings=Settings())
    by_id = {r.detection_id: r for r in first.runs}
    assert by_id["cloudtrail_logging_stopped"].status is RunStatus.FAILED
    assert "injected engine failure" in (by_id["cloudtrail_logging_stopped"].error or "")
    assert by_id["cloudtrail_trail_deleted"].status is RunStatus.OK  # the others are unaffected
    assert not [f for f in first.new_findings if f.detection_id == "cloudtrail_logging_stopped"]
    failed = state.load_states(["cloudtrail_logging_stopped"])["cloudtrail_logging_stopped"]
    assert failed.watermark is None and failed.consecutive_failures == 1  # nothing moved

    second = run_cycle(store, dets, state, now=now + CYCLE, settings=Settings())
    run = {r.detection_id: r for r in second.runs}["cloudtrail_logging_stopped"]
    assert run.status is RunStatus.OK and run.window is not None
    assert run.window.start <= by_id["cloudtrail_logging_stopped"].window.start  # the failed window is covered
    reference = run_detection(store, dets[0], run.window.start, run.window.end, settings=Settings())
    assert reference and {f.fingerprint for f in run.new} == {f.fingerprint for f in reference}
    assert {r.detection_id: r for r in second.runs}["cloudtrail_trail_deleted"].status is RunStatus.NOT_DUE
    ok = state.load_states(["cloudtrail_logging_stopped"])["cloudtrail_logging_stopped"]
    assert ok.watermark == run.window.end and ok.consecutive_failures == 0


def test_a_failure_after_a_success_keeps_the_old_watermark_and_the_retry_covers_the_gap(tmp_path):
    dets = load_detections(["cloudtrail_logging_stopped"])
    store = FlakyStore(":memory:", marker="'StopLogging'", times=0)
    state = LocalFileState(tmp_path / "state.json")
    t = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    run_cycle(store, dets, state, now=t, settings=Settings())  # empty store: watermark at t - 5m
    store.ingest([fixtures_dir() / "cloudtrail_logging_stopped"])  # delivered, events from 10:12 on
    store.failures_left = 2
    for k in (1, 2):  # two failing cycles (10:15, 10:30)
        res = run_cycle(store, dets, state, now=t + 15 * k * M, settings=Settings())
        assert res.runs[0].status is RunStatus.FAILED
    res = run_cycle(store, dets, state, now=t + 45 * M, settings=Settings())
    assert res.runs[0].status is RunStatus.OK
    assert res.runs[0].window is not None and res.runs[0].window.start <= t - 5 * M - SchedulerConfig().lateness
    assert [f.target for f in res.new_findings] == ["org-audit-trail"]


# --- events later than the allowance are counted, not silently dropped ----------------------------------

def test_events_delivered_after_the_allowance_are_counted_and_reported(tmp_path, caplog):
    dets = load_detections(["cloudtrail_logging_stopped"])
    store = LocalStore(":memory:")
    state = LocalFileState(tmp_path / "state.json")
    late_file = fixtures_dir() / "cloudtrail_logging_stopped" / "positive_stop_logging_by_iam_user.json"
    event_time = _time(_records(late_file)[0]["eventTime"])  # 10:12:31
    t = event_time.replace(minute=0, second=0)
    while t < event_time + 2 * dt.timedelta(hours=1):  # the scheduler runs on; the event is not delivered
        assert run_cycle(store, dets, state, now=t, settings=Settings()).late_events == 0
        t += 15 * M
    store.ingest([late_file])  # delivered two hours late: every window that could hold it has run
    with caplog.at_level("WARNING", logger="trailhound.scheduler.cycle"):
        res = run_cycle(store, dets, state, now=t, settings=Settings())
    assert res.late_events == 1
    assert res.late is not None and res.late.by_minute == {event_time.replace(second=0): 1}
    assert "later than the allowance" in caplog.text
    assert not res.new_findings  # the detection's windows are past it: that is why it is reported
    again = run_cycle(store, dets, state, now=t + CYCLE, settings=Settings())
    assert again.late_events == 0  # counted once


def test_an_event_delivered_while_the_scheduler_was_idle_is_not_late_and_is_seen(tmp_path):
    dets = load_detections(["cloudtrail_logging_stopped"])
    store = LocalStore(":memory:")
    state = LocalFileState(tmp_path / "state.json")
    f = fixtures_dir() / "cloudtrail_logging_stopped" / "positive_stop_logging_by_iam_user.json"
    event_time = _time(_records(f)[0]["eventTime"])
    run_cycle(store, dets, state, now=event_time + 2 * M, settings=Settings())
    store.ingest([f])  # two hours late, but no cycle ran in between: the next window still covers it
    res = run_cycle(store, dets, state, now=event_time + 2 * dt.timedelta(hours=1), settings=Settings())
    assert res.late_events == 0 and [x.target for x in res.new_findings] == ["org-audit-trail"]


def test_delivery_within_the_allowance_is_not_late(tmp_path):
    dets = load_detections(["cloudtrail_logging_stopped"])
    store = LocalStore(":memory:")
    state = LocalFileState(tmp_path / "state.json")
    f = fixtures_dir() / "cloudtrail_logging_stopped" / "positive_stop_logging_by_iam_user.json"
    event_time = _time(_records(f)[0]["eventTime"])
    run_cycle(store, dets, state, now=event_time + 2 * M, settings=Settings())
    store.ingest([f])  # delivered 20 minutes after the event
    res = run_cycle(store, dets, state, now=event_time + 22 * M, settings=Settings())
    assert res.late_events == 0


# --- done when: replaying the fixtures as delivered, one run every 5 minutes ----------------------------

def _fixture_detections() -> list[str]:
    root = fixtures_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")
                  and (Path(root.parent / "detections" / f"{p.name}.sql")).exists())


def _window_relative(det: Detection) -> bool:
    """The SQL uses the window start for more than bounding eventTime (e.g. "new since $START_TIME")."""
    import re

    bound = re.compile(r"eventTime\s*>=\s*\$START_TIME", re.I)
    return len(re.findall(r"\$START_TIME", det.sql)) > len(bound.findall(det.sql))


@pytest.mark.slow
@pytest.mark.parametrize("detection_id", _fixture_detections())
def test_replay_as_delivered_raises_what_one_shot_detect_raises_and_no_fingerprint_twice(detection_id, tmp_path):
    dets = load_detections([detection_id])
    rng = random.Random(f"replay-{detection_id}")
    deliveries = [(_time(r["eventTime"]) + dt.timedelta(seconds=rng.uniform(60, 600)), r)
                  for p in sorted((fixtures_dir() / detection_id).glob("*.json")) for r in _records(p)]
    start = min(t for t, _ in deliveries).replace(second=0, microsecond=0) - CYCLE
    store = LocalStore(":memory:")
    state = LocalFileState(tmp_path / "state.json")
    config = SchedulerConfig(late_check_horizon=dt.timedelta(0))  # late counting has its own tests
    result = replay(store, dets, state, deliveries, five_minute_cycles(start, deliveries, 30 * M),
                    tmp_path, config=config)
    reference = one_shot(store, dets)
    positives = list((fixtures_dir() / detection_id).glob("positive_*.json"))
    assert not positives or reference, "the positive fixtures raise findings in a one-shot run"
    check_exactly_once(result, reference, every_event=not _window_relative(dets[0]))
    assert not any(r.status is RunStatus.FAILED for c in result.cycles for r in c.runs)


@pytest.mark.slow
def test_replaying_a_recording_file_by_file_raises_what_detect_raises_and_no_fingerprint_twice(tmp_path):
    """The whole pack over the simulator's recording (two playbook attacks in benign activity),
    each delivery file ingested at the time in its name, one cycle every 5 minutes."""
    from trailhound.detections.model import load_detections as load_pack
    from trailhound.simulate import simulate
    from trailhound.simulate.writer import delivery_time

    recording = simulate(["compromised-iam-user", "compromised-ec2-instance"], tmp_path / "recording")
    files = sorted(recording.files, key=lambda p: (delivery_time(p), p.name))
    dets = load_pack()
    store = LocalStore(":memory:")
    state = LocalFileState(tmp_path / "state.json")
    config = SchedulerConfig(late_check_horizon=dt.timedelta(0))
    last_delivery = delivery_time(files[-1])
    assert last_delivery is not None
    now, i, raised = delivery_time(files[0]), 0, []
    assert now is not None
    for _ in range(200):
        due = [f for f in files[i:] if (delivery_time(f) or now) <= now]
        if due:
            store.ingest(due)
            i += len(due)
        res = run_cycle(store, dets, state, now=now, config=config, settings=Settings())
        assert not [r.error for r in res.runs if r.error]
        raised += res.new_findings
        states = state.load_states([d.id for d in dets])
        if i == len(files) and all(s.watermark and s.watermark > last_delivery for s in states.values()):
            break
        now += CYCLE
    else:
        raise AssertionError("the replay did not finish")
    reference = one_shot(store, dets)
    assert reference, "the recording's attacks raise findings in a one-shot detect"
    fps = [f.fingerprint for f in raised]
    assert len(fps) == len(set(fps))
    assert {f.fingerprint for f in reference} <= set(fps)
