"""The runner: output contract checks, tuning from config, stable fingerprints, finding shape."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from trailhound.config import DetectionTuning, Settings
from trailhound.detections.model import load_detection
from trailhound.detections.runner import DetectionOutputError, run_detection
from trailhound.errors import SqlError
from trailhound.findings import Finding, fingerprint
from trailhound.store.local import LocalStore

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)

HEADER = """/*
id: {id}
title: Trail stopped (test)
description: A test detection over StopLogging records.
severity: high
attack: [T1562.008]
techniques: [aws.defense-evasion.cloudtrail-stop]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: {threshold}
response: {{action: restore_cloudtrail_logging, params: {{trail: target}}}}
false_positives: []
runbook: notebooks/tampering_and_exposure.ipynb
*/
"""
CONTRACT = """ARRAY[eventID] AS event_ids, eventTime AS first_seen, eventTime AS last_seen,
  userIdentity.arn AS actor_arn, userIdentity.type AS actor_type, userIdentity.accessKeyId AS access_key_id,
  sourceIPAddress AS source_ip, userAgent AS user_agent, recipientAccountId AS account_id,
  awsRegion AS region, eventName AS event_name, element_at(requestParameters, 'name') AS target"""
WHERE = "FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME AND eventName = 'StopLogging'"


def record(i: int, user: str, trail: str, ip: str = "198.51.100.7", minutes: int = 0) -> dict:
    return {
        "eventVersion": "1.10", "eventTime": (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
                         "arn": f"arn:aws:iam::111122223333:user/{user}", "accessKeyId": "AKIAEXAMPLE",
                         "userName": user},
        "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "us-east-1",
        "sourceIPAddress": ip, "userAgent": "test", "requestParameters": {"name": trail},
        "responseElements": None, "requestID": f"req-{i}", "eventID": f"00000000-0000-4000-8000-{i:012d}",
        "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": "111122223333", "eventCategory": "Management",
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    path = tmp_path_factory.mktemp("runner") / "events.json"
    path.write_text(json.dumps({"Records": [
        record(1, "alice", "trail-a"), record(2, "alice", "trail-a", minutes=5),
        record(3, "bob", "trail-b", ip="10.1.2.3", minutes=10),
    ]}))
    s = LocalStore(":memory:")
    s.ingest([str(path)])
    return s


def detection(tmp_path: Path, select: str, *, id: str = "trail_stopped_test", threshold: str = "null",
              tail: str = ""):
    p = tmp_path / f"{id}.sql"
    p.write_text(HEADER.format(id=id, threshold=threshold) + f"SELECT {select} {WHERE} {tail}")
    return load_detection(p)


def window() -> tuple[dt.datetime, dt.datetime]:
    return T0, T0 + dt.timedelta(hours=1)


def test_findings_carry_contract_metadata_and_response(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT)
    findings = run_detection(store, det, *window(), settings=Settings())
    assert len(findings) == 3
    f = findings[0]
    assert f.detection_id == det.id and f.severity.value == "high" and f.id == f.fingerprint
    assert f.first_seen.tzinfo is not None and f.first_seen.utcoffset() == dt.timedelta(0)
    assert f.response.action == "restore_cloudtrail_logging"
    assert f.response.params == {"trail": f.target}
    assert f.response.runbook == "notebooks/tampering_and_exposure.ipynb"
    assert f.window.start == T0
    detail = f.to_event_detail()
    json.dumps(detail)  # JSON-ready for EventBridge
    assert Finding.from_event_detail(detail) == f


def test_fingerprint_is_stable_across_windows_and_rows(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT)
    a = run_detection(store, det, *window(), settings=Settings())
    b = run_detection(store, det, T0 - dt.timedelta(minutes=30), T0 + dt.timedelta(minutes=30), settings=Settings())
    by_event = {f.event_ids[0]: f.fingerprint for f in a}
    assert all(by_event[f.event_ids[0]] == f.fingerprint for f in b)
    # two StopLogging calls by alice on trail-a share the dedup key → same fingerprint; bob differs
    assert len({f.fingerprint for f in a}) == 2
    row = {"actor_arn": "arn:aws:iam::111122223333:user/alice", "target": "trail-a"}
    alice = next(f for f in a if f.target == "trail-a")
    assert fingerprint(det.id, ("actor_arn", "target"), row) == alice.fingerprint
    assert fingerprint("other_detection", ("actor_arn", "target"), row) != alice.fingerprint


def test_missing_contract_column_names_detection_and_column(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT.replace(", userAgent AS user_agent", ""))
    with pytest.raises(DetectionOutputError, match="trail_stopped_test.*user_agent"):
        run_detection(store, det, *window(), settings=Settings())


def test_mistyped_contract_column(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT.replace("ARRAY[eventID] AS event_ids", "eventID AS event_ids"))
    with pytest.raises(DetectionOutputError, match="column event_ids"):
        run_detection(store, det, *window(), settings=Settings())
    det = detection(tmp_path, CONTRACT.replace("eventTime AS first_seen", "1 AS first_seen"))
    with pytest.raises(DetectionOutputError, match="column first_seen"):
        run_detection(store, det, *window(), settings=Settings())


def test_engine_error_names_detection(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT.replace("eventName AS event_name", "noSuchColumn AS event_name"))
    with pytest.raises(SqlError, match="trail_stopped_test"):
        run_detection(store, det, *window(), settings=Settings())


def test_tuning_disables_and_allowlists(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT)
    off = Settings(detections={det.id: DetectionTuning(enabled=False)})
    assert run_detection(store, det, *window(), settings=off) == []
    allow = Settings(detections={det.id: DetectionTuning(allow_principals=("arn:aws:iam::*:user/alice",))})
    assert {f.target for f in run_detection(store, det, *window(), settings=allow)} == {"trail-b"}
    by_ip = Settings(detections={det.id: DetectionTuning(allow_source_ips=("10.0.0.0/8",))})
    assert {f.target for f in run_detection(store, det, *window(), settings=by_ip)} == {"trail-a"}


def test_threshold_from_header_and_config(store: LocalStore, tmp_path: Path) -> None:
    select = ("array_agg(eventID) AS event_ids, min(eventTime) AS first_seen, max(eventTime) AS last_seen, "
              "userIdentity.arn AS actor_arn, arbitrary(userIdentity.type) AS actor_type, "
              "arbitrary(userIdentity.accessKeyId) AS access_key_id, arbitrary(sourceIPAddress) AS source_ip, "
              "arbitrary(userAgent) AS user_agent, arbitrary(recipientAccountId) AS account_id, "
              "arbitrary(awsRegion) AS region, 'StopLogging' AS event_name, "
              "arbitrary(element_at(requestParameters, 'name')) AS target, count(*) AS n_events")
    det = detection(tmp_path, select, threshold="{column: n_events, min: 2}",
                    tail="GROUP BY userIdentity.arn HAVING count(*) >= $THRESHOLD")
    found = run_detection(store, det, *window(), settings=Settings())
    assert [(f.actor_arn.rsplit("/", 1)[1], f.extra["n_events"]) for f in found] == [("alice", 2)]
    assert sorted(found[0].event_ids) == ["00000000-0000-4000-8000-000000000001",
                                          "00000000-0000-4000-8000-000000000002"]
    lower = Settings(detections={det.id: DetectionTuning(threshold=1)})
    assert len(run_detection(store, det, *window(), settings=lower)) == 2


def test_empty_window_is_an_error(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT)
    with pytest.raises(Exception, match="empty"):
        run_detection(store, det, T0, T0, settings=Settings())


def test_known_accounts_suppress_external_account_rows(store: LocalStore, tmp_path: Path) -> None:
    det = detection(tmp_path, CONTRACT + ", '444455556666' AS external_account")
    assert len(run_detection(store, det, *window(), settings=Settings())) == 3
    known = Settings(known_accounts=("444455556666",))
    assert run_detection(store, det, *window(), settings=known) == []
    public = detection(tmp_path, CONTRACT + ", '*' AS external_account", id="public_test")
    assert len(run_detection(store, public, *window(), settings=known)) == 3
