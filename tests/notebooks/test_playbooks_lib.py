"""The playbook library on a small simulated incident: paging, pickers, charts, containment gating,
approvals, evidence reading, and filling a playbook's parameters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from trailhound.errors import UserInputError
from trailhound.investigation.records import JsonFileInvestigationStore
from trailhound.playbooks import approvals, charts, contain, evidence, fill, pickers
from trailhound.playbooks.query import Paging, Window, iter_pages, query_df, window
from trailhound.store.local import LocalStore

START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
ALL_ROWS = ("SELECT eventID, eventTime FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME "
            "ORDER BY eventTime DESC, eventID")
NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from trailhound.simulate.scenarios import simulate

    base = tmp_path_factory.mktemp("mini")
    sim = simulate(["compromised-iam-user", "compromised-ec2-instance"], base / "ct", seed=3, benign=300, start=START)
    store = LocalStore(base / "events.duckdb")
    store.ingest(sim.files)
    yield store, Window(sim.start, sim.end), sim
    store.close()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TrailHound settings from the machine (AWS isolation: ``tests/conftest.py``)."""
    for name in ("INVESTIGATIONS_TABLE", "CONTAINMENT_TABLE", "TRAILHOUND_STORE", "TRAILHOUND_NOTEBOOKS_DIR",
                 "TRAILHOUND_PROTECTED_PRINCIPALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TZ", "UTC")


# --- window and paging ---------------------------------------------------------------------------

def test_window_parses_iso_relative_and_defaults() -> None:
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    assert window("2026-11-27T09:00:00Z", "2026-11-27T10:00:00Z", now=now) == Window(START, START + dt.timedelta(hours=1))
    assert window("90m", "", now=now) == Window(now - dt.timedelta(minutes=90), now)
    assert window("", "", now=now).start == now - dt.timedelta(hours=24)
    with pytest.raises(UserInputError, match="start"):
        window("yesterday-ish", now=now)
    with pytest.raises(UserInputError, match="empty"):
        window("2026-11-27T10:00:00Z", "2026-11-27T09:00:00Z", now=now)


def test_time_paging_returns_every_row_once_in_query_order(mini: Any) -> None:
    store, win, _ = mini
    whole = store.query(ALL_ROWS, win.params).rows
    df = query_df(store, ALL_ROWS, None, win, page_rows=40, slice_size=dt.timedelta(hours=1))
    paging = df.attrs["paging"]
    assert paging["paging"] == "time" and paging["pages"] > 1 and not paging["truncated"]
    assert len(df) == len(whole) and df["eventID"].is_unique
    assert list(df["eventID"]) == [r["eventID"] for r in whole]  # re-sorted by the query's ORDER BY
    pages = list(iter_pages(store, ALL_ROWS, None, win, page_rows=40))
    assert all(len(p) <= 40 for p in pages) and sum(len(p) for p in pages) == len(whole)


def test_max_rows_truncates_and_says_so(mini: Any) -> None:
    store, win, _ = mini
    df = query_df(store, ALL_ROWS, None, win, page_rows=25, max_rows=60)
    assert len(df) == 60 and df.attrs["paging"]["truncated"] is True
    agg = query_df(store, "window_activity", None, win, max_rows=5)
    assert agg.attrs["paging"]["paging"] == "none" and len(agg) == 5 and agg.attrs["paging"]["truncated"]


def test_aggregate_and_self_limited_queries_run_once(mini: Any) -> None:
    store, win, sim = mini
    df = query_df(store, "failing_principals", None, win)
    assert df.attrs["paging"]["queries"] == 1 and df.attrs["paging"]["paging"] == Paging.NONE.value
    assert str(df["first_seen"].dtype).startswith("datetime64") and str(df["first_seen"].dt.tz) == "UTC"
    # a time-bucketed aggregate may be sliced: the per-minute counts add up the same
    sliced = query_df(store, "window_activity", None, win, paging="time", page_rows=10)
    whole = query_df(store, "window_activity", None, win)
    assert sliced.attrs["paging"]["queries"] > 1
    assert sliced["events"].sum() == whole["events"].sum() == store.count()


def test_queries_must_be_time_bounded_and_named_queries_must_exist(mini: Any) -> None:
    store, win, _ = mini
    with pytest.raises(UserInputError, match="not time-bounded"):
        query_df(store, "SELECT count(*) FROM $EDS_ID", None, win)
    with pytest.raises(UserInputError, match="no_such_query"):
        query_df(store, "no_such_query", None, win)
    with pytest.raises(UserInputError, match="window"):
        query_df(store, "window_activity")


def test_values_reach_sql_only_as_literals(mini: Any) -> None:
    store, win, _ = mini
    hostile = "x' OR '1'='1"
    df = query_df(store, "sources", {"actor_arn": hostile, "access_key_id": hostile}, win)
    assert len(df) == 0


# --- pickers ---------------------------------------------------------------------------------------

def test_pickers_find_the_simulated_subjects_and_say_why(mini: Any) -> None:
    store, win, sim = mini
    actor = pickers.pick_actor(store, win)
    assert actor.value == f"arn:aws:iam::111122223333:user/{sim.resources.user_name}"
    assert "failed authorization the most" in actor.reason and actor.get("denied") >= 20
    inst = pickers.pick_instance(store, win)
    assert inst.value == sim.resources.instance_id and "198.51.100.201" not in str(inst.get("home_ip"))
    assert "used from 1 address" in inst.reason
    tamper = pickers.pick_tampering(store, win)
    assert tamper.value == sim.resources.trail_name and tamper.get("event_name") == "StopLogging"
    assert "most recent tampering" in tamper.reason


def test_given_subject_is_kept_and_empty_window_says_so(mini: Any) -> None:
    store, win, _ = mini
    given = pickers.pick_actor(store, win, "arn:aws:iam::111122223333:user/nobody")
    assert given.given and given.value.endswith("nobody") and "no authorization failures" in given.reason
    empty = Window(START - dt.timedelta(days=3), START - dt.timedelta(days=2))
    for pick in (pickers.pick_actor(store, empty), pickers.pick_instance(store, empty),
                 pickers.pick_tampering(store, empty)):
        assert not pick and pick.value is None and "give" in pick.reason


# --- charts ----------------------------------------------------------------------------------------

def test_charts_render_png_also_when_empty(mini: Any) -> None:
    store, win, _ = mini
    activity = query_df(store, "window_activity", None, win, paging="time")
    tampering = query_df(store, "tampering_calls", None, win)
    sources = query_df(store, "sources", {"actor_arn": pickers.pick_actor(store, win).value,
                                          "access_key_id": None}, win)
    figures = [charts.activity_timeline(activity), charts.error_rate(activity),
               charts.source_ips(sources, highlight={"198.51.100.77"}), charts.calls_timeline(tampering, color_by="kind"),
               charts.activity_timeline(activity.iloc[:0]), charts.error_rate(activity.iloc[:0]),
               charts.source_ips(sources.iloc[:0]), charts.calls_timeline(tampering.iloc[:0])]
    for fig in figures:
        assert charts.png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    assert charts.bin_size(START, START + dt.timedelta(hours=3)) == dt.timedelta(minutes=5)
    assert charts.bin_size(START, START + dt.timedelta(days=30)) == dt.timedelta(hours=6)
    assert charts.bin_size(START, START + dt.timedelta(days=365)) == dt.timedelta(days=1)


# --- containment -----------------------------------------------------------------------------------

def test_credential_proposals_cover_keys_sessions_and_created_keys() -> None:
    props = contain.for_credentials("arn:aws:iam::111122223333:user/ops/alice", ["AKIAAAAAAAAAAAAAAAAA", "ASIAXX"],
                                    [("bob", "AKIABBBBBBBBBBBBBBBB")])
    assert [(p.action, p.params) for p in props] == [
        ("deactivate_access_key", {"user_name": "bob", "access_key_id": "AKIABBBBBBBBBBBBBBBB"}),
        ("deactivate_access_key", {"user_name": "alice", "access_key_id": "AKIAAAAAAAAAAAAAAAAA"}),
        ("deny_all_user_policy", {"user_name": "alice"})]
    role = contain.for_credentials("arn:aws:sts::111122223333:assumed-role/app-role/i-0123456789abcdef0")
    assert [(p.action, p.params) for p in role] == [("revoke_role_sessions", {"role_name": "app-role"})]
    assert contain.for_credentials(None) == []
    assert [p.action for p in contain.for_instance("i-0123456789abcdef0", "web")] == [
        "quarantine_instance", "revoke_role_sessions"]
    assert [p.params for p in contain.for_tampering("cloudtrail", "trail-1", "StopLogging")] == [{"trail": "trail-1"}]
    assert [p.action for p in contain.for_tampering("snapshot", "snap-0123456789abcdef0")] == [
        "unshare_snapshot_or_image"]
    assert contain.for_tampering("guardduty", "det-1") == [] and "GuardDuty" in (contain.manual_steps("guardduty") or "")
    assert "444455556666" in (contain.manual_steps("bucket", other_accounts=["444455556666"]) or "")


class _NoAws:
    def client(self, name: str) -> Any:
        raise AssertionError(f"apply=False must not create an AWS client ({name})")


def test_apply_without_the_flag_changes_nothing() -> None:
    props = contain.for_credentials("arn:aws:iam::111122223333:user/alice", ["AKIAAAAAAAAAAAAAAAAA"])
    report = contain.apply(props, apply=False, session=_NoAws(), records=object())
    assert report.statuses == ["not_applied", "not_applied"] and "apply is False" in report.markdown()


def test_plan_reads_aws_and_apply_records_then_protected_is_refused(tmp_path: Path) -> None:
    from moto import mock_aws
    from trailhound.containment.records import JsonFileRecordStore

    records = JsonFileRecordStore(tmp_path / "containments.json")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        iam = session.client("iam")
        iam.create_user(UserName="alice")
        key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
        props = contain.for_credentials("arn:aws:iam::123456789012:user/alice", [key])
        planned = contain.plan(props, session=session, records=records)
        assert planned.statuses == ["planned", "planned"] and not records.list()
        assert f"set access key {key}" in planned.markdown()
        missing = contain.plan(contain.for_credentials("arn:aws:iam::123456789012:user/ghost", []), session=session,
                               records=records)
        assert missing.statuses == ["error"] and "could not plan" in missing.markdown()
        applied = contain.apply(props[:1], apply=True, finding_id="f-1", session=session, records=records)
        assert applied.statuses == ["applied"] and len(records.list()) == 1
        assert iam.list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Inactive"
        own = contain.plan(contain.for_credentials("arn:aws:sts::123456789012:assumed-role/TrailHoundContain/x"),
                           session=session, records=records)
        assert own.statuses == ["refused"]


# --- approvals and lookups ------------------------------------------------------------------------

def _finding(**over: Any) -> Any:
    from trailhound.findings import Finding, ProposedResponse
    from trailhound.findings import Window as FWindow

    data: dict[str, Any] = dict(
        id="ab" * 32, detection_id="access_denied_burst", title="Burst", severity="medium", fingerprint="ab" * 32,
        event_ids=["e1"], first_seen=START + dt.timedelta(hours=1), last_seen=START + dt.timedelta(hours=1, minutes=5),
        actor_arn="arn:aws:iam::111122223333:user/svc-reporting", access_key_id="AKIAAAAAAAAAAAAAAAAA",
        response=ProposedResponse(action="deny_all_user_policy", params={"user_name": "svc-reporting"},
                                  runbook="notebooks/compromised_credentials.ipynb"),
        window=FWindow(start=START, end=START + dt.timedelta(hours=2)))
    data.update(over)
    return Finding(**data)


def _records(tmp_path: Path) -> JsonFileInvestigationStore:
    store = JsonFileInvestigationStore(tmp_path / "investigations.json")
    finding = _finding()
    store.put({"investigation_id": "inv-1", "started_at": "2026-11-27T10:10:00Z", "status": "pending_approval",
               "finding": finding.to_event_detail(), "task_token": "token-1",
               "decision": {"action": "deny_all_user_policy", "params": {"user_name": "svc-reporting"},
                            "reason": "approval mode"}})
    store.put({"investigation_id": "inv-0", "started_at": "2026-11-27T10:00:00Z", "status": "done",
               "finding": _finding(id="cd" * 32, fingerprint="cd" * 32).to_event_detail()})
    return store


def test_pending_lists_only_waiting_investigations(tmp_path: Path) -> None:
    df = approvals.pending(_records(tmp_path))
    assert list(df["investigation_id"]) == ["inv-1"] and df.loc[0, "action"] == "deny_all_user_policy"


def test_answer_sends_the_task_token_and_records_the_answer(tmp_path: Path) -> None:
    store = _records(tmp_path)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(sfn) as stub:
        stub.add_response("send_task_success", {}, {"taskToken": "token-1", "output": stub_any()})
        result = approvals.answer("inv-1", False, investigations=store, by="analyst", sfn_client=sfn)
        stub.assert_no_pending_responses()
    assert result["status"] == "approval_answered" and result["approval"]["approved"] is False
    with pytest.raises(UserInputError, match="not waiting"):
        approvals.answer("inv-1", True, investigations=store, by="analyst", sfn_client=sfn)


def stub_any() -> Any:
    from botocore.stub import ANY

    return ANY


def test_locate_by_investigation_finding_prefix_or_findings_file(tmp_path: Path) -> None:
    store = _records(tmp_path)
    assert approvals.locate("inv-1", investigations=store).investigation_id == "inv-1"
    assert approvals.locate("cdcdcdcd", investigations=store).investigation_id == "inv-0"
    findings_file = tmp_path / "findings.json"
    findings_file.write_text(json.dumps([_finding(id="ef" * 32, fingerprint="ef" * 32).to_event_detail()]))
    found = approvals.locate("efefefefef", investigations=store, findings_file=findings_file)
    assert found.investigation is None and found.finding.id == "ef" * 32
    with pytest.raises(UserInputError, match="no such investigation or finding"):
        approvals.locate("abc", investigations=store, findings_file=findings_file)  # too short for a prefix


# --- evidence --------------------------------------------------------------------------------------

def test_exposure_reads_policies_and_sharing() -> None:
    public = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]})
    foreign = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                                         "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]})
    assert evidence.exposure(public, "111122223333").public
    got = evidence.exposure(foreign, "111122223333")
    assert not got.public and got.accounts == ["444455556666"] and "444455556666" in got.markdown()
    assert evidence.exposure('{"add": {"items": [{"group": "all"}]}}', "111122223333").public
    assert evidence.exposure(None, "1") == evidence.Exposure()


def test_flag_buckets_marks_foreign_and_unused_buckets() -> None:
    import pandas as pd

    df = pd.DataFrame({"bucket": ["drop", "exports", "(all buckets)"], "bucket_owner": ["444455556666", "1", None],
                       "account_id": ["1", "1", "1"], "used_by_others": [False, False, False],
                       "from_home": [0, 8, 0]})
    flagged = evidence.flag_buckets(df)
    assert list(flagged["foreign"]) == [True, False, False]
    assert list(flagged["unfamiliar"]) == [True, False, False]


# --- filling a playbook ----------------------------------------------------------------------------

def test_fill_injects_declared_parameters_after_the_parameters_cell(tmp_path: Path) -> None:
    import papermill

    nb = fill.read_notebook(NOTEBOOKS_DIR / "compromised_credentials.ipynb")
    filled = fill.fill(nb, {"store": "local:/x.duckdb", "actor_arn": "arn:aws:iam::1:user/a", "nope": 1})
    refilled = fill.fill(filled, {"store": "local:/y.duckdb"})
    index = fill.parameters_cell(refilled)
    injected = [c for c in refilled["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and refilled["cells"][index + 1] is injected[0]
    assert injected[0]["source"].splitlines()[1:] == ["store = 'local:/y.duckdb'"]
    out = tmp_path / "filled.ipynb"
    out.write_text(json.dumps(filled))
    assert "nope" not in json.dumps(filled["metadata"]["papermill"]["parameters"])
    assert papermill.inspect_notebook(str(out))["actor_arn"]["default"] == '""'  # the defaults stay


def test_subject_parameters_and_playbook_choice() -> None:
    f = _finding()
    assert fill.playbook_for(f) == "compromised_credentials"
    assert fill.subject_parameters("compromised_credentials", f)["actor_arn"].endswith("svc-reporting")
    from trailhound.findings import ProposedResponse

    inst = _finding(actor_arn="arn:aws:sts::1:assumed-role/web/i-0123456789abcdef0",
                    response=ProposedResponse(runbook="notebooks/compromised_instance.ipynb"))
    assert fill.subject_parameters("compromised_instance", inst) == {"instance_id": "i-0123456789abcdef0"}
    bucket = _finding(response=ProposedResponse(action="block_public_bucket", params={"bucket_name": "b1"},
                                                runbook="notebooks/tampering_and_exposure.ipynb"))
    assert fill.subject_parameters("tampering_and_exposure", bucket) == {"resource": "b1"}
    assert fill.playbook_for(_finding(response=ProposedResponse(runbook="notebooks/gone.ipynb"))) == "open_finding"
    assert fill.store_spec("local:rel/events.duckdb").startswith("local:/")
    assert fill.store_spec("lake:eds-1") == "lake:eds-1"


def test_answer_resumes_a_locally_paused_investigation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws
    from trailhound.containment.records import JsonFileRecordStore
    from trailhound.investigation.local import run_investigation
    from trailhound.investigation.policy import ContainmentMode, Policy
    from trailhound.investigation.steps import StepContext

    monkeypatch.chdir(tmp_path)
    db = tmp_path / "events.duckdb"
    LocalStore(db).close()
    records = JsonFileInvestigationStore(tmp_path / "investigations.json")
    containments = tmp_path / "containments.json"
    with mock_aws():
        with LocalStore(db, read_only=True) as store:
            ctx = StepContext(store=store, session=boto3.Session(region_name="us-east-1"),
                              containment_records=JsonFileRecordStore(containments), investigations=records,
                              policy=Policy(mode=ContainmentMode.APPROVAL, verify_wait_seconds=0),
                              notify=lambda kind, body: None)
            paused = run_investigation(ctx, _finding(), approver=lambda payload: None)
        assert paused["status"] == "pending_approval" and paused["local_resume"]
        assert list(approvals.pending(records)["investigation_id"]) == [paused["investigation_id"]]
        result = approvals.answer(paused["investigation_id"], False, investigations=records, by="analyst",
                                  store=f"local:{db}", records=str(containments), investigations_path=str(records.path))
    assert result["status"] != "pending_approval" and not result.get("local_resume")
    assert approvals.pending(records).empty
    assert not containments.exists() or "deny_all_user_policy" not in containments.read_text()  # rejected: nothing applied
