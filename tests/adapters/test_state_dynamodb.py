"""The scheduler's DynamoDB state on moto: conditional claims, versioned watermarks, TTL, outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trailhound.config import Settings
from trailhound.detections.model import detections_dir, fixtures_dir, load_detection
from trailhound.scheduler.core import DetectionState, EventEntry, FindingEntry, LateSnapshot, SchedulerConfig
from trailhound.scheduler.cycle import run_cycle
from trailhound.scheduler.state import (
    Commit,
    DynamoDBState,
    LocalFileState,
    OutboxItem,
    StateConflictError,
    StateStore,
)
from trailhound.store.local import LocalStore

TABLE = "trailhound-state"
T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")  # AWS isolation: tests/conftest.py


def create_table(client: Any, name: str = TABLE) -> None:
    """The table as infra/ creates it: pk/sk strings, on-demand, TTL on ``expires_at``."""
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}])
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True,
                                                                         "AttributeName": "expires_at"})


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield client


@pytest.fixture(params=["dynamodb", "file"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """Both implementations, to hold them to the same contract."""
    if request.param == "file":
        yield LocalFileState(tmp_path / "state.json")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield DynamoDBState(TABLE, client, sleep=lambda s: None)


def entry(fp: str, last: dt.datetime = T0) -> FindingEntry:
    return FindingEntry("det_a", fp, last - dt.timedelta(minutes=3), last, T0, 2, "high")


def commit(state_: DetectionState, expected: int | None, claims: list[FindingEntry], *,
           events: list[EventEntry] | None = None, outbox: list[OutboxItem] | None = None) -> Commit:
    return Commit(state=state_, expected_version=expected, claims=claims, events=events or [],
                  outbox=outbox or [], reach=H, dedup_period=dt.timedelta(hours=24), now=T0)


# --- the contract, for both stores ------------------------------------------------------------------

def test_state_round_trip_and_version_check(state: StateStore):
    assert state.load_states(["det_a"]) == {}
    st = DetectionState("det_a").failed("boom", T0, T0 - H)
    state.save_state(st, None)
    loaded = state.load_states(["det_a", "det_b"])
    assert list(loaded) == ["det_a"] and loaded["det_a"] == st
    with pytest.raises(StateConflictError):
        state.save_state(st.failed("again", T0), None)  # expected "no item", but there is one
    with pytest.raises(StateConflictError):
        state.save_state(st.failed("again", T0), st.version + 5)
    state.save_state(st.failed("again", T0), st.version)
    assert state.load_states(["det_a"])["det_a"].consecutive_failures == 2


def test_commit_records_claims_events_and_outbox(state: StateStore):
    item = OutboxItem("det_a", "fp1", {"fingerprint": "fp1", "detection_id": "det_a"}, ("eventbridge", "sns"), T0)
    new_state = DetectionState("det_a").succeeded(T0, T0)
    res = state.commit("det_a", commit(new_state, None, [entry("fp1")],
                                       events=[EventEntry("e1", "fp1", T0), EventEntry("e2", "fp1", T0)],
                                       outbox=[item]))
    assert res.lost == set()
    events, findings = state.lookup("det_a", ["e1", "e2", "e3"], ["fp1", "fp2"])
    assert set(events) == {"e1", "e2"} and events["e1"].fingerprint == "fp1"
    assert set(findings) == {"fp1"} and findings["fp1"].event_count == 2
    assert state.load_states(["det_a"])["det_a"].watermark == T0
    assert [(o.fingerprint, o.sinks) for o in state.pending()] == [("fp1", ("eventbridge", "sns"))]
    state.delivered(item, ("sns",))
    assert [o.sinks for o in state.pending()] == [("sns",)]
    state.delivered(item, ())
    assert state.pending() == []
    with pytest.raises(StateConflictError):  # a second writer with the stale version
        state.commit("det_a", commit(new_state.succeeded(T0 + H, T0 + H), None, []))


def test_a_held_fingerprint_is_lost_to_the_second_claim_unless_its_evidence_is_old(state: StateStore):
    first = DetectionState("det_a").succeeded(T0, T0)
    state.commit("det_a", commit(first, None, [entry("fp1")]))
    second = first.succeeded(T0 + H, T0 + H)
    res = state.commit("det_a", commit(second, first.version, [entry("fp1", T0 + H)]))
    assert res.lost == {"fp1"}
    third = second.succeeded(T0 + 3 * 24 * H, T0 + 3 * 24 * H)
    res = state.commit("det_a", commit(third, second.version, [entry("fp1", T0 + 3 * 24 * H)]))
    assert res.lost == set()  # a recurrence days later is a new finding
    _, findings = state.lookup("det_a", [], ["fp1"])
    assert findings["fp1"].last_seen == T0 + 3 * 24 * H


def test_late_snapshot_round_trip(state: StateStore):
    assert state.load_late() is None
    snap = LateSnapshot(frontier=T0, counted_from=T0 - 6 * H, counts={T0 - H: 4, T0 - 2 * H: 1})
    state.save_late(snap)
    assert state.load_late() == snap


# --- DynamoDB specifics ----------------------------------------------------------------------------

def test_two_scheduler_instances_never_both_raise_a_fingerprint(ddb):
    a = DynamoDBState(TABLE, ddb)
    b = DynamoDBState(TABLE, boto3.client("dynamodb", region_name="us-east-1"))
    st = DetectionState("det_a").succeeded(T0, T0)
    item = OutboxItem("det_a", "fp1", {"fingerprint": "fp1"}, ("eventbridge",), T0)
    assert a.commit("det_a", commit(st, None, [entry("fp1")], outbox=[item])).lost == set()
    with pytest.raises(StateConflictError):  # b read the same (absent) state: its watermark write fails
        b.commit("det_a", commit(st, None, [entry("fp1")], outbox=[item]))
    assert len(a.pending()) == 1  # and its claim did not add a second outbox item
    # b again, having read a's state: no conflict, but the fingerprint is a's
    later = st.succeeded(T0 + H, T0 + H)
    res = b.commit("det_a", commit(later, st.version, [entry("fp1", T0 + H)], outbox=[item]))
    assert res.lost == {"fp1"} and len(b.pending()) == 1


def test_items_carry_a_ttl_and_the_documented_keys(ddb):
    state = DynamoDBState(TABLE, ddb)
    st = DetectionState("det_a").succeeded(T0, T0)
    state.commit("det_a", commit(st, None, [entry("fp1")], events=[EventEntry("e1", "fp1", T0)]))
    items = ddb.scan(TableName=TABLE)["Items"]
    keys = {(i["pk"]["S"], i["sk"]["S"]) for i in items}
    assert keys == {("DET#det_a", "STATE"), ("DET#det_a", "FP#fp1"), ("DET#det_a", "EV#e1")}
    for i in items:
        if i["sk"]["S"] != "STATE":
            expires = int(i["expires_at"]["N"])
            assert expires > int(T0.timestamp()) + 7 * 86400  # beyond the logical need plus the margin
    ttl = ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_large_lookups_are_batched(ddb):
    state = DynamoDBState(TABLE, ddb)
    st = DetectionState("det_a").succeeded(T0, T0)
    ids = [f"e{i:04d}" for i in range(260)]
    state.commit("det_a", commit(st, None, [entry("fp1")], events=[EventEntry(e, "fp1", T0) for e in ids]))
    events, _ = state.lookup("det_a", ids + ["missing"], ["fp1"])
    assert set(events) == set(ids)


def test_missing_table_is_a_named_error(ddb):
    from trailhound.scheduler.state import StateError

    state = DynamoDBState("no-such-table", ddb)
    with pytest.raises(StateError, match="no-such-table"):
        state.load_states(["det_a"])


def test_a_cycle_on_dynamodb_state_raises_each_finding_once(ddb, tmp_path):
    dets = [load_detection(detections_dir() / "cloudtrail_logging_stopped.sql")]
    store = LocalStore(":memory:")
    store.ingest([fixtures_dir() / "cloudtrail_logging_stopped"])
    state = DynamoDBState(TABLE, ddb, config=SchedulerConfig())
    now = dt.datetime(2026, 11, 24, 11, 15, tzinfo=dt.UTC)
    first = run_cycle(store, dets, state, now=now, settings=Settings())
    assert len(first.new_findings) == 2
    later = [run_cycle(store, dets, state, now=now + k * 15 * dt.timedelta(minutes=1), settings=Settings())
             for k in (1, 2, 3)]
    assert [len(r.new_findings) for r in later] == [0, 0, 0]
    assert any(r.runs[0].suppressed for r in later)  # seen again in overlapping windows, not raised
