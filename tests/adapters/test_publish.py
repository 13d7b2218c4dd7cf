"""Findings fan-out on moto: the trailhound bus, SNS, Security Hub (ASFF); retries; the detect Lambda."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from trailhound.detections.model import Severity
from trailhound.findings import DETAIL_TYPE, EVENT_SOURCE, Finding, ProposedResponse, Window
from trailhound.scheduler.publish import (
    ASFF_SCHEMA_VERSION,
    Publisher,
    Sink,
    asff_types,
    fit_detail,
    import_security_hub,
    product_arn,
    publish_sns,
    put_events,
    sns_subject,
    to_asff,
)
from trailhound.scheduler.state import OutboxItem

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
T0 = dt.datetime(2026, 11, 24, 11, 2, 44, tzinfo=dt.UTC)
# The required top-level ASFF attributes (Security Hub user guide, "Required top-level ASFF attributes").
ASFF_REQUIRED = ("AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources",
                 "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt")


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    """This file's region (AWS isolation: ``tests/conftest.py``)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("TZ", "UTC")


def make_finding(fp: str = "a" * 64, **over: Any) -> Finding:
    data: dict[str, Any] = dict(
        id=fp, detection_id="cloudtrail_logging_stopped", title="CloudTrail logging stopped on a trail",
        severity=Severity.HIGH, fingerprint=fp, attack=["T1562.008"], techniques=["aws.defense-evasion.cloudtrail-stop"],
        event_ids=["5553ad9b-76ec-573a-b2f3-ec38289d6cea"], first_seen=T0, last_seen=T0,
        actor_arn="arn:aws:sts::111122223333:assumed-role/ops-admin/jane.doe@example.com", actor_type="AssumedRole",
        access_key_id="ASIA4EXAMPLEOPSADM01", source_ip="203.0.113.24", user_agent="aws-cli/2.15.0",
        account_id="111122223333", region="eu-west-1", event_name="StopLogging", target="management-events",
        extra={"principal_arn": "arn:aws:iam::111122223333:role/ops-admin"},
        response=ProposedResponse(action="restore_cloudtrail_logging", params={"trail_name": "management-events"},
                                  runbook="notebooks/tampering_and_exposure.ipynb"),
        window=Window(start=T0 - dt.timedelta(hours=1), end=T0 + dt.timedelta(minutes=5)))
    data.update(over)
    return Finding(**data)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """A bus with a rule into a queue, a topic with a queue subscribed, Security Hub on."""
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        hub = boto3.client("securityhub", region_name=REGION)
        events.create_event_bus(Name="trailhound")
        bus_q = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        bus_q_arn = sqs.get_queue_attributes(QueueUrl=bus_q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="findings", EventBusName="trailhound",
                        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE]}))
        events.put_targets(Rule="findings", EventBusName="trailhound", Targets=[{"Id": "q", "Arn": bus_q_arn}])
        topic = sns.create_topic(Name="trailhound-findings")["TopicArn"]
        sns_q = sqs.create_queue(QueueName="topic-tap")["QueueUrl"]
        sns_q_arn = sqs.get_queue_attributes(QueueUrl=sns_q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sns_q_arn)
        hub.enable_security_hub()
        yield {"events": events, "sqs": sqs, "sns": sns, "securityhub": hub, "topic": topic,
               "bus_queue": bus_q, "sns_queue": sns_q}


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


# --- EventBridge ----------------------------------------------------------------------------------------

def test_findings_reach_the_trailhound_bus_as_well_formed_events(aws):
    findings = [make_finding(f"{i:064x}") for i in range(23)]  # more than two batches of 10
    ok = put_events(aws["events"], [f.to_event_detail() for f in findings], "trailhound", sleep=lambda s: None)
    assert ok == {f.fingerprint: True for f in findings}
    received = drain(aws["sqs"], aws["bus_queue"])
    assert len(received) == 23
    first = received[0]
    assert first["source"] == "trailhound" and first["detail-type"] == "TrailHound Finding"
    back = Finding.from_event_detail(first["detail"])  # the detail is the finding, losslessly
    assert back.fingerprint in {f.fingerprint for f in findings}
    assert back.model_dump() == next(f for f in findings if f.fingerprint == back.fingerprint).model_dump()
    assert first["resources"] == [findings[0].actor_arn]


def test_failed_entries_are_retried_and_reported():
    client = boto3.client("events", region_name=REGION)
    details = [make_finding(f"{i:064x}").to_event_detail() for i in range(3)]
    with Stubber(client) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [
            {"EventId": "1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}, {"EventId": "3"}]})
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "2"}]})
        ok = put_events(client, details, "trailhound", sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert all(ok.values()) and len(ok) == 3
    with Stubber(client) as stub:
        for _ in range(4):
            stub.add_client_error("put_events", service_error_code="ThrottlingException")
        ok = put_events(client, details[:1], "trailhound", sleep=lambda s: None)
    assert ok == {details[0]["fingerprint"]: False}


def test_oversized_details_are_trimmed_to_fit_the_entry_limit():
    big = make_finding(event_ids=[f"{i:036d}" for i in range(20000)]).to_event_detail()
    trimmed = fit_detail(big, 250_000)
    assert len(json.dumps(trimmed).encode()) <= 250_000
    assert trimmed["event_ids_total"] == 20000 and trimmed["event_ids"] == big["event_ids"][:len(trimmed["event_ids"])]


# --- SNS ------------------------------------------------------------------------------------------------

def test_sns_message_has_a_summary_and_the_json(aws):
    f = make_finding()
    ok = publish_sns(aws["sns"], aws["topic"], [f.to_event_detail()], sleep=lambda s: None)
    assert ok == {f.fingerprint: True}
    [envelope] = drain(aws["sqs"], aws["sns_queue"])
    assert envelope["Subject"] == "[TrailHound] HIGH CloudTrail logging stopped on a trail"
    message = envelope["Message"]
    summary, _, body = message.partition("--- finding (JSON) ---\n")
    assert "Actor: arn:aws:sts::111122223333:assumed-role/ops-admin/jane.doe@example.com" in summary
    assert "Proposed response: restore_cloudtrail_logging" in summary
    assert json.loads(body)["fingerprint"] == f.fingerprint
    assert envelope["MessageAttributes"]["severity"]["Value"] == "high"


def test_sns_subject_is_short_printable_ascii():
    subject = sns_subject({"severity": "critical", "title": "Ünïcode\nand a very long title " * 10})
    assert len(subject) < 100 and subject.isascii() and "\n" not in subject


# --- Security Hub ---------------------------------------------------------------------------------------

def test_asff_has_every_required_field_and_imports(aws):
    f = make_finding()
    asff = to_asff(f.to_event_detail(), region=REGION, account_id=ACCOUNT, now=T0 + dt.timedelta(minutes=7))
    missing = [k for k in ASFF_REQUIRED if not asff.get(k)]
    assert not missing
    assert asff["SchemaVersion"] == ASFF_SCHEMA_VERSION == "2018-10-08"
    assert asff["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert asff["AwsAccountId"] == ACCOUNT  # the importing account (default product ARN rule)
    assert asff["ProductFields"]["trailhound/ActivityAccountId"] == "111122223333"
    assert asff["GeneratorId"] == "trailhound/cloudtrail_logging_stopped"
    assert asff["Severity"]["Label"] == "HIGH" and asff["FindingProviderFields"]["Severity"]["Label"] == "HIGH"
    assert asff["Types"] == ["TTPs/Defense Evasion"]
    assert asff["CreatedAt"] == "2026-11-24T11:02:44Z" and asff["UpdatedAt"] == "2026-11-24T11:09:44Z"
    assert len(asff["Title"]) <= 256 and len(asff["Description"]) <= 1024
    assert {r["Type"] for r in asff["Resources"]} == {"AwsIamRole", "AwsIamAccessKey", "Other"}
    # botocore validates the request against Security Hub's model before moto sees it
    ok = import_security_hub(aws["securityhub"], [f.to_event_detail()], region=REGION, account_id=ACCOUNT,
                             now=T0, sleep=lambda s: None)
    assert ok == {f.fingerprint: True}
    [stored] = aws["securityhub"].get_findings()["Findings"]
    assert stored["Id"] == asff["Id"] and stored["SchemaVersion"] == "2018-10-08"
    for k in ASFF_REQUIRED:
        assert stored.get(k), k


def test_asff_for_root_and_unknown_actors_still_names_a_resource():
    f = make_finding(actor_arn=None, actor_type=None, access_key_id=None, target=None, extra={},
                     severity=Severity.INFO, techniques=[])
    asff = to_asff(f.to_event_detail(), region=REGION, account_id=ACCOUNT, now=T0)
    assert asff["Resources"] == [{"Type": "AwsAccount", "Id": "AWS::::Account:111122223333", "Partition": "aws",
                                  "Region": REGION}]
    assert asff["Severity"]["Label"] == "INFORMATIONAL" and asff_types(f.to_event_detail()) == ["Unusual Behaviors/User"]
    root = make_finding(actor_arn="arn:aws:iam::111122223333:root", actor_type="Root", extra={})
    assert to_asff(root.to_event_detail(), region=REGION, account_id=ACCOUNT, now=T0)["Resources"][0]["Type"] == "AwsAccount"


def test_security_hub_rejections_are_retried_then_reported():
    client = boto3.client("securityhub", region_name=REGION)
    d = make_finding().to_event_detail()
    asff_id = to_asff(d, region=REGION, account_id=ACCOUNT, now=T0)["Id"]
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response("batch_import_findings", {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [
                {"Id": asff_id, "ErrorCode": "InvalidInput", "ErrorMessage": "nope"}]})
        ok = import_security_hub(client, [d], region=REGION, account_id=ACCOUNT, now=T0, sleep=lambda s: None)
    assert ok == {d["fingerprint"]: False}


def test_product_arn_follows_the_partition():
    assert product_arn("cn-north-1", "1").startswith("arn:aws-cn:")
    assert product_arn("us-gov-west-1", "1").startswith("arn:aws-us-gov:")


# --- the fan-out ----------------------------------------------------------------------------------------

def test_publisher_reports_what_each_item_still_needs(aws):
    pub = Publisher(events=aws["events"], sns=aws["sns"], topic_arn=aws["topic"], securityhub=aws["securityhub"],
                    region=REGION, account_id=ACCOUNT, sleep=lambda s: None)
    assert pub.sinks == (Sink.EVENTBRIDGE, Sink.SNS, Sink.SECURITY_HUB)
    f = make_finding()
    item = OutboxItem(f.detection_id, f.fingerprint, f.to_event_detail(), ("sns", "securityhub"), T0)
    assert pub.publish([item]) == {(f.detection_id, f.fingerprint): ()}
    assert drain(aws["sqs"], aws["bus_queue"]) == []  # EventBridge had already taken it
    assert len(drain(aws["sqs"], aws["sns_queue"])) == 1


# --- the detect Lambda, end to end ------------------------------------------------------------------------

class Context:
    function_name = "trailhound-detect"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trailhound-detect"
    aws_request_id = "req-1"


def _recent_fixture_db(tmp_path: Path, now: dt.datetime) -> Path:
    """The StopLogging fixtures, moved to about 40 minutes ago, in a local store file."""
    from trailhound.detections.model import fixtures_dir
    from trailhound.store.local import LocalStore

    records = []
    for k, p in enumerate(sorted((fixtures_dir() / "cloudtrail_logging_stopped").glob("*.json"))):
        recs = json.loads(p.read_text(encoding="utf-8"))["Records"]
        first = min(dt.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) for r in recs)
        for r in recs:  # each file moved to start 40 - 2k minutes ago, its own spacing kept
            t = dt.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
            r["eventTime"] = (now - dt.timedelta(minutes=40 - 2 * k) + (t - first)).isoformat().replace("+00:00", "Z")
        records += recs
    src = tmp_path / "delivery.json"
    src.write_text(json.dumps({"Records": records}), encoding="utf-8")
    db = tmp_path / "events.duckdb"
    with LocalStore(db) as store:
        store.ingest([src])
    return db


def _detect_lambda_env(aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detect Lambda's settings, its state table, and a store of recent StopLogging events."""
    db = _recent_fixture_db(tmp_path, dt.datetime.now(dt.UTC))
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName="trailhound-state", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    monkeypatch.setenv("TRAILHOUND_STORE", f"local:{db}")
    monkeypatch.setenv("STATE_TABLE", "trailhound-state")
    monkeypatch.setenv("EVENT_BUS_NAME", "trailhound")
    monkeypatch.setenv("SNS_TOPIC_ARN", aws["topic"])
    monkeypatch.setenv("SECURITY_HUB_ENABLED", "true")
    monkeypatch.setenv("LATE_CHECK_HORIZON", "1h")


def test_detect_lambda_runs_due_detections_and_publishes_new_findings(aws, tmp_path, monkeypatch, capsys):
    from trailhound.handlers import detect

    _detect_lambda_env(aws, tmp_path, monkeypatch)
    detect.runtime.cache_clear()
    event = {"schedule": "15m", "detection_ids": ["cloudtrail_logging_stopped", "cloudtrail_trail_deleted"]}
    try:
        out = detect.handler(event, Context())
        emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
        again = detect.handler(event, Context())
    finally:
        detect.runtime.cache_clear()
    assert out["due"] == 2 and out["ok"] == 2 and out["new_findings"] == 2 and out["pending"] == 0
    assert again["new_findings"] == 0 and again["due"] == 0
    bus = drain(aws["sqs"], aws["bus_queue"])
    assert sorted(e["detail"]["fingerprint"] for e in bus) == sorted(out["new_finding_ids"])
    assert len(drain(aws["sqs"], aws["sns_queue"])) == 2
    assert len(aws["securityhub"].get_findings()["Findings"]) == 2
    names = {m["Name"] for blob in emf for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Findings", "Queries", "BytesScanned", "WatermarkLagSeconds", "LateEvents"} <= names
    blob = next(b for b in emf if "Findings" in b)
    value = blob["Findings"][0] if isinstance(blob["Findings"], list) else blob["Findings"]
    assert value == 2 and blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TrailHound"


def test_detect_lambda_runs_the_rest_of_the_pack_when_one_query_does_not_parse(aws, tmp_path, monkeypatch):
    # The cold start does not parse the pack (synth did): one broken file fails alone, not the cold start.
    from trailhound.detections.model import detections_dir
    from trailhound.handlers import detect

    _detect_lambda_env(aws, tmp_path, monkeypatch)
    pack = tmp_path / "sql" / "detections"
    pack.mkdir(parents=True)
    for good in ("cloudtrail_logging_stopped", "cloudtrail_trail_deleted"):
        (pack / f"{good}.sql").write_text((detections_dir() / f"{good}.sql").read_text(encoding="utf-8"))
    broken = (detections_dir() / "cloudtrail_trail_deleted.sql").read_text(encoding="utf-8")
    broken = broken.replace("id: cloudtrail_trail_deleted", "id: cloudtrail_trail_deleted_broken")
    (pack / "cloudtrail_trail_deleted_broken.sql").write_text(broken.replace("SELECT", "SELECT (", 1))
    monkeypatch.setenv("TRAILHOUND_SQL_DIR", str(tmp_path / "sql"))
    detect.runtime.cache_clear()
    try:
        out = detect.handler({"schedule": "15m"}, Context())
    finally:
        detect.runtime.cache_clear()
    assert out["due"] == 3 and out["ok"] == 2 and out["failed"] == 1 and out["new_findings"] == 2
    assert len(drain(aws["sqs"], aws["bus_queue"])) == 2


def test_detect_settings_name_the_bad_variable():
    from trailhound.errors import UserInputError
    from trailhound.handlers.detect import DetectSettings

    ok = DetectSettings.from_env({"TRAILHOUND_STORE": "lake:eds-1", "TRAILHOUND_STATE_TABLE": "t",
                                  "TRAILHOUND_SECURITY_HUB": "false", "LATENESS": "30m", "SETTLE": "120"})
    assert ok.state_table == "t" and ok.lateness == dt.timedelta(minutes=30) and ok.settle == dt.timedelta(minutes=2)
    assert ok.event_bus_name == "trailhound" and ok.sns_topic_arn is None
    with pytest.raises(UserInputError, match="STATE_TABLE"):
        DetectSettings.from_env({"TRAILHOUND_STORE": "lake:eds-1"})
    with pytest.raises(UserInputError, match="LATENESS"):
        DetectSettings.from_env({"TRAILHOUND_STORE": "x", "STATE_TABLE": "t", "LATENESS": "soon"})


def test_detect_request_accepts_rule_input_and_scheduled_events():
    from trailhound.handlers.detect import DetectRequest

    assert DetectRequest.from_event({"schedule": "1h", "detection_ids": ["a"]}).schedule == "1h"
    assert DetectRequest.from_event({"schedule_group": "15m"}).schedule == "15m"
    scheduled = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
                 "detail": {"schedule_group": "1h"}}
    assert DetectRequest.from_event(scheduled).schedule == "1h"
    assert DetectRequest.from_event({}).detection_ids is None


def test_select_by_schedule_and_ids_skips_unknown_ids():
    from trailhound.detections.model import detections_dir, load_detection
    from trailhound.handlers.detect import DetectRequest, select

    pack = [load_detection(detections_dir() / f"{i}.sql") for i in ("cloudtrail_logging_stopped",
                                                                     "cloudtrail_log_bucket_lifecycle_shortened")]
    schedules = {d.id: d.header.schedule for d in pack}
    chosen = select(pack, DetectRequest(schedule=schedules["cloudtrail_logging_stopped"]))
    assert "cloudtrail_logging_stopped" in {d.id for d in chosen}
    only = select(pack, DetectRequest(detection_ids=["cloudtrail_logging_stopped", "gone_detection"]))
    assert [d.id for d in only] == ["cloudtrail_logging_stopped"]
    assert select(pack, DetectRequest()) == pack
