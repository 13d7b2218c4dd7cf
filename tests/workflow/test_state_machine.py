"""The deployed workflow definition, executed by moto's Step Functions with the real handlers."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from trailhound.findings import Finding, ProposedResponse, Window
from trailhound.investigation.approval import answer
from trailhound.investigation.records import DynamoDBInvestigationStore
from trailhound.investigation.steps import new_investigation
from trailhound.simulate.scenarios import Resources, simulate
from trailhound.store.local import LocalStore

from tests.workflow.conftest import REGION, Workflow

T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def victim(workflow: Workflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An IAM user and key in the emulator, and a local store where that key is abused."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="svc-reporting")
    key = iam.create_access_key(UserName="svc-reporting")["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName="backup-operator")
    out = tmp_path / "logs"
    simulate(["compromised-iam-user"], out, seed=3, benign=100, start=T0,
             resources=Resources(access_key_id=key))
    db = tmp_path / "events.duckdb"
    with LocalStore(db) as store:
        store.ingest([out])
    monkeypatch.setenv("TRAILHOUND_STORE", f"local:{db}")
    return {"key": key, "db": db, "user_arn": "arn:aws:iam::123456789012:user/svc-reporting"}


def finding(victim: dict[str, Any], *, action: str | None = "deactivate_access_key",
            severity: str = "high", key: str | None = None) -> Finding:
    key = key or victim["key"]
    return Finding(
        id="f" * 64, fingerprint="f" * 64, detection_id="access_denied_burst",
        title="Burst of authorization failures from one principal", severity=severity,
        event_ids=["e1"], first_seen=T0 + dt.timedelta(hours=1), last_seen=T0 + dt.timedelta(hours=1, minutes=6),
        actor_arn=victim["user_arn"], actor_type="IAMUser", access_key_id=key, source_ip="198.51.100.77",
        account_id="123456789012", region=REGION, event_name="ListUsers,DescribeInstances", target="svc-reporting",
        response=ProposedResponse(action=action, params={"user_name": "svc-reporting", "access_key_id": key}
                                  if action else {}),
        window=Window(start=T0, end=T0 + dt.timedelta(hours=3)),
    )


def key_status(key: str) -> str:
    keys = boto3.client("iam", region_name=REGION).list_access_keys(UserName="svc-reporting")["AccessKeyMetadata"]
    return next(k["Status"] for k in keys if k["AccessKeyId"] == key)


def record(inv_id: str) -> dict[str, Any]:
    return DynamoDBInvestigationStore(boto3.client("dynamodb", region_name=REGION),
                                      "trailhound-investigations").get(inv_id)


def run(workflow: Workflow, f: Finding) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = new_investigation(f)
    desc = workflow.wait(workflow.start(doc))
    assert desc["status"] == "SUCCEEDED", desc
    return json.loads(desc["output"]), record(doc["investigation_id"])


def wait_for_pending(workflow: Workflow, inv_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rec = record(inv_id)
            if rec.get("task_token"):
                return rec
        except Exception:  # not written yet
            pass
        time.sleep(0.05)
    raise AssertionError("no approval was requested")


def test_auto_contain_deactivates_the_key_and_verifies(workflow: Workflow, victim: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    output, rec = run(workflow, finding(victim))
    assert workflow.steps_called() == ["enrich", "decide", "contain", "verify", "notify"]
    assert key_status(victim["key"]) == "Inactive"
    assert rec["disposition"] == "auto_contain"
    assert rec["outcome"] == "contained"
    assert rec["containment_id"] and output["containment"]["status"] == "applied"
    assert rec["verification"]["effect_confirmed"] is True
    assert rec["verification"]["activity_stopped"] is True
    assert rec["enrichment"]["summary"]["errors"] >= 20  # the burst is in the enrichment
    assert "198.51.100.77" in rec["enrichment"]["summary"]["source_ips"]


def test_dry_run_mode_records_a_plan_and_changes_nothing(workflow: Workflow, victim: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "dry-run")
    _, rec = run(workflow, finding(victim))
    assert key_status(victim["key"]) == "Active"
    assert rec["outcome"] == "planned_dry_run"
    assert rec["containment"]["status"] == "planned"


@pytest.mark.parametrize("approved", [True, False])
def test_needs_approval_waits_for_the_task_token(workflow: Workflow, victim: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch, approved: bool) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "approval")
    doc = new_investigation(finding(victim))
    execution = workflow.start(doc)
    pending = wait_for_pending(workflow, doc["investigation_id"])
    assert pending["status"] == "pending_approval"
    assert workflow.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert key_status(victim["key"]) == "Active"  # nothing happens before a person answers
    answer(doc["investigation_id"], approved=approved, by="analyst@example.com",
           investigations=DynamoDBInvestigationStore(boto3.client("dynamodb", region_name=REGION),
                                                     "trailhound-investigations"),
           sfn_client=workflow.sfn)
    desc = workflow.wait(execution)
    assert desc["status"] == "SUCCEEDED"
    rec = record(doc["investigation_id"])
    assert rec["approval"]["approved"] is approved
    if approved:
        assert key_status(victim["key"]) == "Inactive"
        assert rec["outcome"] == "contained"
        assert workflow.steps_called() == ["enrich", "decide", "request_approval", "contain", "verify", "notify"]
    else:
        assert key_status(victim["key"]) == "Active"
        assert rec["outcome"] == "rejected"
        assert "contain" not in workflow.steps_called()


def test_approval_timeout_rejects(workflow: Workflow, victim: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "approval")
    monkeypatch.setenv("APPROVAL_TIMEOUT_SECONDS", "1")
    _, rec = run(workflow, finding(victim))
    assert rec["outcome"] == "approval_timed_out"
    assert rec["approval"] == {"approved": False, "by": "timeout",
                               "reason": "no answer before the approval timeout: rejected"}
    assert key_status(victim["key"]) == "Active"
    assert "contain" not in workflow.steps_called()


def test_notify_only_when_the_detection_proposes_no_action(workflow: Workflow, victim: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    _, rec = run(workflow, finding(victim, action=None))
    assert workflow.steps_called() == ["enrich", "decide", "notify"]
    assert rec["disposition"] == "notify_only" and rec["outcome"] == "notified"


def test_protected_principal_is_never_contained(workflow: Workflow, victim: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    monkeypatch.setenv("TRAILHOUND_PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/svc-*")
    _, rec = run(workflow, finding(victim))
    assert rec["disposition"] == "notify_only"
    assert "protected" in rec["reason"]
    assert "contain" not in workflow.steps_called()
    assert key_status(victim["key"]) == "Active"


def test_containment_failure_is_notified_not_swallowed(workflow: Workflow, victim: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    _, rec = run(workflow, finding(victim, key="AKIAAAAAAAAAAAAAAAAA"))  # no such key
    assert workflow.steps_called() == ["enrich", "decide", "contain", "notify"]
    assert rec["outcome"] == "containment_failed"
    assert "containment_error" in rec["errors"]
    assert "AKIAAAAAAAAAAAAAAAAA" in json.dumps(rec["errors"])
    assert any(s["step"] == "contain" and s["status"] == "failed" for s in rec["steps"])


def test_verify_escalates_when_the_actor_keeps_going(workflow: Workflow, victim: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONTAINMENT_MODE", "automatic")
    monkeypatch.setenv("VERIFY_WAIT_SECONDS", "8")  # room to record the late call under load
    doc = new_investigation(finding(victim))
    execution = workflow.start(doc)
    deadline = time.monotonic() + 20
    while "contain" not in workflow.steps_returned() and time.monotonic() < deadline:
        time.sleep(0.02)
    # The contain handler has returned, so its containment time is behind us; the workflow is in
    # its Wait state. The attacker still succeeds after containment (e.g. with a session token
    # minted earlier): a call stamped in the next whole second, as CloudTrail stamps them.
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    late = {"eventVersion": "1.09", "eventTime": at, "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
            "awsRegion": REGION, "sourceIPAddress": "198.51.100.77", "userAgent": "aws-cli/2.17.20",
            "eventID": "11111111-2222-4333-8444-555555555555", "readOnly": True, "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "arn": victim["user_arn"], "accountId": "123456789012",
                             "accessKeyId": victim["key"], "userName": "svc-reporting"}}
    path = tmp_path / "late.json"
    path.write_text(json.dumps({"Records": [late]}))
    with LocalStore(victim["db"]) as store:
        store.ingest([path])
    desc = workflow.wait(execution)
    assert desc["status"] == "SUCCEEDED"
    rec = record(doc["investigation_id"])
    assert rec["verification"]["activity_stopped"] is False
    assert rec["verification"]["escalate"] is True
    assert rec["outcome"] == "escalated"
