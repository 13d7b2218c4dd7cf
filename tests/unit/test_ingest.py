"""Ingest into the local store: Lake shape and types, exactly once, every input kind, bad input.

Records are real CloudTrail records adapted from the Stratus Red Team detonation logs
(``tests/unit/data/stratus-sample.json``, see ``tests/unit/data/README.md``); the service event
and the variants built below are derived from them.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trailhound.store.ingest import Ingestor, IngestSummary
from trailhound.store.local import LocalStore
from trailhound.store.schema import LAKE_COLUMNS

SAMPLE = Path(__file__).parent / "data" / "stratus-sample.json"
RECORDS: list[dict[str, Any]] = json.loads(SAMPLE.read_text())["Records"]
BY_NAME = {r["eventName"]: r for r in RECORDS}

# A service event (shape of a KMS key rotation), built on the sample's AssumeRole record.
SERVICE_EVENT: dict[str, Any] = {
    "eventVersion": "1.10", "userIdentity": {"accountId": "457448411975", "invokedBy": "kms.amazonaws.com",
                                             "type": "AWSService"},
    "eventTime": "2024-07-30T22:00:00Z", "eventSource": "kms.amazonaws.com", "eventName": "RotateKey",
    "awsRegion": "apiso-northsouth-3r", "sourceIPAddress": "kms.amazonaws.com", "userAgent": "kms.amazonaws.com",
    "requestParameters": None, "responseElements": None, "eventID": "5f0c2f52-4d3a-4f7e-9a57-6d1c0b1f0e01",
    "readOnly": False, "eventType": "AwsServiceEvent", "managementEvent": True,
    "recipientAccountId": "457448411975", "sharedEventID": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "eventCategory": "Management",
    "serviceEventDetails": {"keyId": "arn:aws:kms:apiso-northsouth-3r:457448411975:key/1234abcd",
                            "rotationType": "AUTOMATIC", "attempt": 2, "details": {"reason": "scheduled"}},
    "resources": [{"accountId": "457448411975", "type": "AWS::KMS::Key",
                   "ARN": "arn:aws:kms:apiso-northsouth-3r:457448411975:key/1234abcd"}],
}


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


def variant(rec: dict[str, Any], n: int, **changes: Any) -> dict[str, Any]:
    """A copy of ``rec`` with a new eventID (and ``changes``)."""
    out = copy.deepcopy(rec)
    out["eventID"] = f"{rec['eventID'][:-4]}{n:04d}"
    out.update(changes)
    return out


# How write_delivery lays files out (the ``layout`` fixture runs every test of this module both
# ways): "cloudtrail" as CloudTrail writes them, no spaces and each record's eventVersion first
# (read one record a line), or "spaced", json.dumps' default (read as an array).
LAYOUT = {"now": "cloudtrail"}


@pytest.fixture(autouse=True, params=["cloudtrail", "spaced"])
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(LAYOUT, "now", request.param)
    return str(request.param)


def delivery_json(records: list[Any]) -> bytes:
    if LAYOUT["now"] == "spaced":
        return json.dumps({"Records": records}).encode()
    first = [{"eventVersion": r["eventVersion"], **r} if isinstance(r, dict) and "eventVersion" in r else r
             for r in records]
    return json.dumps({"Records": first}, separators=(",", ":")).encode()


def write_delivery(path: Path, records: list[Any], *, gz: bool | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = delivery_json(records)
    if gz if gz is not None else path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def lookup_output(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``aws cloudtrail lookup-events`` prints for these records."""
    return {"Events": [{"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": str(r["readOnly"]).lower(),
                        "EventTime": r["eventTime"], "EventSource": r["eventSource"], "Username": "christophe",
                        "Resources": [], "CloudTrailEvent": json.dumps(r)} for r in records]}


@pytest.fixture
def store() -> Iterator[LocalStore]:
    s = LocalStore(":memory:")
    yield s
    s.close()


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[LocalStore]:
    s = LocalStore(":memory:")
    path = write_delivery(tmp_path / "sample.json", [*RECORDS, SERVICE_EVENT])
    summary = s.ingest([path])
    assert (summary.added, summary.rejected) == (len(RECORDS) + 1, 0)
    yield s
    s.close()


def one(store: LocalStore, sql: str, params: list[Any] | None = None) -> Any:
    row = store.con.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0]


def col(store: LocalStore, column: str, event_id: str) -> Any:
    return one(store, f'SELECT "{column}" FROM events WHERE eventID = ?', [event_id])


def ids(store: LocalStore) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT eventID FROM events ORDER BY eventID").fetchall()]


# -- the Lake shape ------------------------------------------------------------------------------
def _norm(t: str) -> str:
    return t.replace('"', "").replace(" ", "").upper()


def test_every_lake_column_with_lakes_type(loaded: LocalStore) -> None:
    described = loaded.con.execute("DESCRIBE events").fetchall()
    assert [r[0] for r in described] == [c for c, _ in LAKE_COLUMNS]
    assert [_norm(r[1]) for r in described] == [_norm(t) for _, t in LAKE_COLUMNS]
    types = dict((r[0], r[1]) for r in described)
    assert types["eventTime"] == "TIMESTAMP"
    assert types["readOnly"] == types["managementEvent"] == "BOOLEAN"
    assert types["requestParameters"] == "MAP(VARCHAR, VARCHAR)"
    assert "creationDate TIMESTAMP" in types["userIdentity"]


def test_user_identity_struct_with_session_context(loaded: LocalStore) -> None:
    rec = BY_NAME["GetPasswordData"]
    ui = col(loaded, "userIdentity", rec["eventID"])
    assert ui["type"] == "AssumedRole"
    assert ui["accessKeyId"] == rec["userIdentity"]["accessKeyId"]
    ctx = ui["sessionContext"]
    assert ctx["attributes"]["creationDate"] == dt.datetime(2024, 7, 30, 21, 31, 15)
    assert ctx["attributes"]["mfaAuthenticated"] == "false"
    assert ctx["sessionIssuer"] == {
        "type": "Role", "principalId": "AROAMLQ9F6KHQ07JKA0WY",
        "arn": "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role",
        "accountId": "457448411975", "userName": "stratus-red-team-ec2-get-password-data-role"}
    path = one(loaded, "SELECT userIdentity.sessionContext.sessionIssuer.arn FROM events WHERE eventID = ?",
               [rec["eventID"]])
    assert path.endswith(":role/stratus-red-team-ec2-get-password-data-role")
    # An IAM user has no session context; a service has only invokedBy.
    assert col(loaded, "userIdentity", BY_NAME["AssumeRole"]["eventID"])["sessionContext"] is None
    svc = col(loaded, "userIdentity", SERVICE_EVENT["eventID"])
    assert (svc["type"], svc["invokedBy"], svc["arn"]) == ("AWSService", "kms.amazonaws.com", None)


def test_federated_user_keeps_its_issuer_and_empty_web_identity(loaded: LocalStore) -> None:
    ui = col(loaded, "userIdentity", BY_NAME["GetCallerIdentity"]["eventID"])
    assert ui["type"] == "FederatedUser"
    assert ui["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    assert ui["sessionContext"]["webIdFederationData"] == {"federatedProvider": None, "attributes": None}


def test_event_time_is_a_utc_timestamp(store: LocalStore, tmp_path: Path) -> None:
    base = BY_NAME["AssumeRole"]
    recs = [variant(base, 1, eventTime="2024-07-31T13:06:24Z"),
            variant(base, 2, eventTime="2024-07-31T15:06:24+02:00"),
            variant(base, 3, eventTime="2024-07-31T13:06:24.250Z")]
    store.ingest([write_delivery(tmp_path / "t.json", recs)])
    assert one(store, "SELECT typeof(eventTime) FROM events LIMIT 1") == "TIMESTAMP"
    got = [r[0] for r in store.con.execute("SELECT eventTime FROM events ORDER BY eventID").fetchall()]
    assert got == [dt.datetime(2024, 7, 31, 13, 6, 24), dt.datetime(2024, 7, 31, 13, 6, 24),
                   dt.datetime(2024, 7, 31, 13, 6, 24, 250000)]


def test_maps_hold_scalars_as_text_and_nested_values_as_json_text(loaded: LocalStore) -> None:
    run = BY_NAME["RunInstances"]
    params = col(loaded, "requestParameters", run["eventID"])
    assert params["instanceType"] == "p2.xlarge"
    assert params["disableApiStop"] == "false"
    assert json.loads(params["instancesSet"]) == run["requestParameters"]["instancesSet"]
    assert json.loads(params["blockDeviceMapping"]) == {}
    assert col(loaded, "responseElements", run["eventID"]) is None
    role = BY_NAME["AssumeRole"]
    assert col(loaded, "requestParameters", role["eventID"])["durationSeconds"] == "900"
    creds = json.loads(col(loaded, "responseElements", role["eventID"])["credentials"])
    assert creds["accessKeyId"] == role["responseElements"]["credentials"]["accessKeyId"]
    cmd = BY_NAME["SendCommand"]
    assert json.loads(col(loaded, "requestParameters", cmd["eventID"])["instanceIds"]) == ["i-786a3A8B5C0d92eF4"]
    login = BY_NAME["ConsoleLogin"]
    assert col(loaded, "requestParameters", login["eventID"]) is None
    assert col(loaded, "additionalEventData", login["eventID"]) == {
        "LoginTo": "https://console.aws.amazon.com/console/home", "MFAUsed": "No", "MobileVersion": "No"}
    details = col(loaded, "serviceEventDetails", SERVICE_EVENT["eventID"])
    assert details["attempt"] == "2" and json.loads(details["details"]) == {"reason": "scheduled"}
    assert one(loaded, "SELECT element_at(requestParameters, 'instanceType')[1] FROM events WHERE eventID = ?",
               [run["eventID"]]) == "p2.xlarge"


def test_resources_are_structs_with_arn_from_raw_ARN(loaded: LocalStore) -> None:
    role = BY_NAME["AssumeRole"]
    assert col(loaded, "resources", role["eventID"]) == [{
        "accountId": "457448411975", "type": "AWS::IAM::Role",
        "arn": "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role", "arnPrefix": None}]
    assert col(loaded, "resources", BY_NAME["ConsoleLogin"]["eventID"]) is None
    arns = [r[0] for r in loaded.con.execute(
        "SELECT r.arn FROM (SELECT unnest(resources) AS r FROM events) ORDER BY 1").fetchall()]
    assert arns == sorted([role["resources"][0]["ARN"], SERVICE_EVENT["resources"][0]["ARN"]])


def test_tls_details_booleans_and_scalars(loaded: LocalStore) -> None:
    cmd = BY_NAME["SendCommand"]
    assert col(loaded, "tlsDetails", cmd["eventID"]) == {
        "tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
        "clientProvidedHostHeader": "ssm.us-north-2r.amazonaws.com"}
    assert col(loaded, "readOnly", BY_NAME["GetPasswordData"]["eventID"]) is True
    assert col(loaded, "readOnly", BY_NAME["ConsoleLogin"]["eventID"]) is False
    assert col(loaded, "managementEvent", cmd["eventID"]) is True
    assert col(loaded, "errorCode", BY_NAME["GetPasswordData"]["eventID"]) == "Client.UnauthorizedOperation"
    assert col(loaded, "sharedEventID", SERVICE_EVENT["eventID"]) == SERVICE_EVENT["sharedEventID"]
    assert col(loaded, "eventType", BY_NAME["ConsoleLogin"]["eventID"]) == "AwsConsoleSignIn"


def test_event_json_is_the_whole_record_and_checksum_is_left_null(loaded: LocalStore) -> None:
    for rec in [*RECORDS, SERVICE_EVENT]:
        assert json.loads(col(loaded, "eventJson", rec["eventID"])) == rec
        assert col(loaded, "eventJsonChecksum", rec["eventID"]) is None


def test_fields_outside_the_schema_survive_in_event_json(store: LocalStore, tmp_path: Path) -> None:
    rec = variant(BY_NAME["AssumeRole"], 9, someFutureField={"x": [1, 2]})
    store.ingest([write_delivery(tmp_path / "f.json", [rec])])
    assert json.loads(col(store, "eventJson", rec["eventID"]))["someFutureField"] == {"x": [1, 2]}


# -- exactly once --------------------------------------------------------------------------------
def delivery_tree(root: Path, n_files: int = 6, per_file: int = 5) -> int:
    """A trail-like directory of .json.gz and .json delivery files; returns the number of records."""
    n = 0
    for i in range(n_files):
        recs = [variant(RECORDS[(i + j) % len(RECORDS)], i * 100 + j) for j in range(per_file)]
        sub = root / "AWSLogs" / "457448411975" / "CloudTrail" / f"region-{i % 2}" / "2024" / "07" / f"{30 + i % 2}"
        write_delivery(sub / f"file{i}.json{'.gz' if i % 2 else ''}", recs)
        n += len(recs)
    return n


def test_ingesting_a_directory_twice_gives_exactly_the_records_in_the_files(store: LocalStore,
                                                                               tmp_path: Path) -> None:
    n = delivery_tree(tmp_path)
    first = store.ingest([tmp_path])
    assert (first.files, first.records, first.added, first.duplicates, first.rejected) == (6, n, n, 0, 0)
    second = store.ingest([tmp_path])
    assert (second.added, second.duplicates, second.rejected) == (0, n, 0)
    assert store.count() == n == len(set(ids(store)))


def test_exactly_once_across_batches_and_a_reopened_file(tmp_path: Path) -> None:
    n = delivery_tree(tmp_path / "logs")
    db = tmp_path / "events.duckdb"
    with LocalStore(db) as s:
        summary = Ingestor(s.con, batch_bytes=1).ingest([tmp_path / "logs"])  # one file a batch
        assert summary.added == n
    with LocalStore(db) as s:
        again = s.ingest([tmp_path / "logs"])
        assert (again.added, again.duplicates) == (0, n)
        assert s.count() == n


def test_duplicates_within_one_run_are_counted_once_and_the_first_wins(store: LocalStore,
                                                                         tmp_path: Path) -> None:
    a = BY_NAME["AssumeRole"]
    twin = dict(a, eventName="AssumeRoleTwin")  # same eventID, different content
    write_delivery(tmp_path / "a.json", [a, a])
    write_delivery(tmp_path / "b.json.gz", [twin, BY_NAME["ConsoleLogin"]])
    summary = store.ingest([tmp_path])
    assert (summary.records, summary.added, summary.duplicates, summary.rejected) == (4, 2, 2, 0)
    assert col(store, "eventName", a["eventID"]) == "AssumeRole"
    # Also when the repeats land in different batches.
    other = LocalStore(":memory:")
    summary = Ingestor(other.con, batch_bytes=1).ingest([tmp_path])
    assert (summary.added, summary.duplicates) == (2, 2)
    other.close()


@pytest.mark.parametrize("batch_bytes", [None, 1])
def test_a_stored_event_behind_each_files_new_first_record_is_still_skipped(tmp_path: Path,
                                                                           batch_bytes: int | None) -> None:
    """A batch whose files' first eventIDs are all new is loaded in one pass and checked after; a
    repeat further in fails the check, and the batch is loaded again the careful way."""
    old = variant(RECORDS[0], 900)
    write_delivery(tmp_path / "old.json", [old])
    write_delivery(tmp_path / "new" / "a.json", [variant(RECORDS[1], 901), old, variant(RECORDS[2], 902)])
    write_delivery(tmp_path / "new" / "b.json", [variant(RECORDS[3], 903), dict(old, eventName="Changed")])
    write_delivery(tmp_path / "new" / "c.json", [variant(RECORDS[4], 904)])
    s = LocalStore(":memory:")
    s.ingest([tmp_path / "old.json"])
    ingestor = Ingestor(s.con) if batch_bytes is None else Ingestor(s.con, batch_bytes=batch_bytes)
    summary = ingestor.ingest([tmp_path / "new"])
    assert (summary.records, summary.added, summary.duplicates, summary.rejected) == (6, 4, 2, 0)
    assert s.count() == 5 == len(set(ids(s)))
    assert col(s, "eventName", old["eventID"]) == old["eventName"]
    s.close()


def test_a_first_record_naming_a_stored_event_inside_it_still_loads(store: LocalStore, tmp_path: Path) -> None:
    """The first eventID in a file's text is only a guess at its first record's: a nested one
    (here in requestParameters, written before the record's own) changes how, not what, loads."""
    old = variant(RECORDS[0], 910)
    write_delivery(tmp_path / "old.json", [old])
    store.ingest([tmp_path / "old.json"])
    rest = {k: v for k, v in variant(RECORDS[1], 911).items() if k != "requestParameters"}
    nested = {"requestParameters": {"eventID": old["eventID"]}, **rest}
    text = write_delivery(tmp_path / "new.json", [nested, variant(RECORDS[2], 912)]).read_text()
    assert text.index(old["eventID"]) < text.index(nested["eventID"])
    summary = store.ingest([tmp_path / "new.json"])
    assert (summary.added, summary.duplicates, summary.rejected) == (2, 0, 0)
    assert col(store, "requestParameters", nested["eventID"]) == {"eventID": old["eventID"]}


def test_every_input_kind_loads(store: LocalStore, tmp_path: Path) -> None:
    recs = [variant(RECORDS[i % len(RECORDS)], i) for i in range(12)]
    write_delivery(tmp_path / "plain.json", recs[0:2])
    write_delivery(tmp_path / "deep" / "er" / "zipped.json.gz", recs[2:4])
    write_delivery(tmp_path / "no-extension-but-gzip.json", recs[4:5], gz=True)
    write_jsonl(tmp_path / "lines.jsonl", [recs[5], "", recs[6]])
    (tmp_path / "lines.jsonl.gz").write_bytes(gzip.compress(
        ("\n".join(json.dumps(r) for r in recs[7:9]) + "\n").encode()))
    (tmp_path / "lookup.json").write_text(json.dumps(lookup_output(recs[9:11]), indent=2))
    (tmp_path / "single.json").write_text(json.dumps(recs[11], indent=2))
    (tmp_path / "notes.txt").write_text("not a CloudTrail file, and not picked up by extension")
    summary = store.ingest([tmp_path])
    assert (summary.files, summary.added, summary.rejected) == (7, 12, 0), summary.rejects
    assert ids(store) == sorted(r["eventID"] for r in recs)
    # Every kind stores the record the same way.
    for r in recs:
        assert json.loads(col(store, "eventJson", r["eventID"])) == r


def test_files_named_explicitly_and_inside_a_directory_count_once(store: LocalStore, tmp_path: Path) -> None:
    f = write_delivery(tmp_path / "a.json", RECORDS[:2])
    summary = store.ingest([tmp_path, f])
    assert (summary.files, summary.added) == (1, 2)


def test_missing_path_is_a_user_error(store: LocalStore, tmp_path: Path) -> None:
    from trailhound.errors import UserInputError

    with pytest.raises(UserInputError, match="no such file or directory"):
        store.ingest([tmp_path / "nope"])


# -- bad input -----------------------------------------------------------------------------------
def reasons(summary: IngestSummary) -> dict[tuple[str, int | None], str]:
    return {(Path(r.file).name, r.record): r.reason for r in summary.rejects}


def test_bad_files_are_named_and_the_good_ones_kept(store: LocalStore, tmp_path: Path) -> None:
    good = [variant(RECORDS[i], i) for i in range(4)]
    write_delivery(tmp_path / "good1.json.gz", good[:2])
    write_delivery(tmp_path / "good2.json", good[2:])
    whole = gzip.compress(json.dumps({"Records": [variant(RECORDS[0], 50 + i) for i in range(40)]}).encode())
    (tmp_path / "truncated.json.gz").write_bytes(whole[: len(whole) // 2])
    text = json.dumps({"Records": [variant(RECORDS[1], 60), variant(RECORDS[2], 61), variant(RECORDS[3], 62)]})
    (tmp_path / "truncated.json").write_text(text[: len(text) - 400])
    (tmp_path / "notjson.json").write_text("<html>502 Bad Gateway</html>")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "records-not-a-list.json").write_text('{"Records": {"eventID": "x"}}')
    summary = store.ingest([tmp_path])
    got = reasons(summary)
    assert set(got) == {("truncated.json.gz", None), ("truncated.json", None), ("notjson.json", None),
                        ("empty.json", None), ("records-not-a-list.json", None)}, got
    assert "truncated" in got[("truncated.json.gz", None)]
    assert got[("truncated.json", None)].startswith("record 2: truncated")
    assert "not JSON" in got[("notjson.json", None)]
    assert "empty" in got[("empty.json", None)]
    assert "Records" in got[("records-not-a-list.json", None)]
    assert ids(store) == sorted(r["eventID"] for r in good)
    assert (summary.added, summary.rejected) == (4, 5)


@pytest.mark.parametrize("name", ["odd.json", "odd.json.gz"])
def test_a_broken_record_in_a_file_laid_out_otherwise_is_named_past_a_byte_order_mark(
        store: LocalStore, tmp_path: Path, name: str) -> None:
    # A key after Records: the file is parsed whole, and the reason must name the broken record,
    # not the byte-order mark in front of the document.
    good = json.dumps(variant(RECORDS[0], 70))
    doc = ('\ufeff{"Records": [' + good + ', {"eventID": "x",, }], "logVersion": 1}').encode()
    (tmp_path / name).write_bytes(gzip.compress(doc) if name.endswith(".gz") else doc)
    summary = store.ingest([tmp_path])
    reason = reasons(summary)[(name, None)]
    assert reason.startswith("record 1: not valid JSON"), reason
    assert (summary.added, summary.rejected) == (0, 1)


def test_bad_records_are_named_by_file_and_index_and_the_good_ones_kept(store: LocalStore,
                                                                        tmp_path: Path) -> None:
    ok = [variant(RECORDS[i], i) for i in range(3)]
    no_id = {k: v for k, v in variant(RECORDS[3], 10).items() if k != "eventID"}
    no_time = {k: v for k, v in variant(RECORDS[4], 11).items() if k != "eventTime"}
    bad_time = variant(RECORDS[5], 12, eventTime="yesterday at noon")
    empty_id = variant(RECORDS[0], 13, eventID="")
    records: list[Any] = [ok[0], no_id, ok[1], no_time, "just a string", bad_time, [1, 2], None, empty_id, ok[2]]
    write_delivery(tmp_path / "mixed.json.gz", records)
    summary = store.ingest([tmp_path])
    assert reasons(summary) == {
        ("mixed.json.gz", 1): "missing field eventID",
        ("mixed.json.gz", 3): "missing field eventTime",
        ("mixed.json.gz", 4): "not a JSON object",
        ("mixed.json.gz", 5): "field eventTime is not an ISO-8601 time: yesterday at noon",
        ("mixed.json.gz", 6): "not a JSON object",
        ("mixed.json.gz", 7): "not a JSON object",
        ("mixed.json.gz", 8): "missing field eventID",
    }
    assert str(summary.rejects[0]) == f"{tmp_path / 'mixed.json.gz'}: record 1: missing field eventID"
    assert (summary.records, summary.added, summary.rejected, summary.duplicates) == (10, 3, 7, 0)
    assert ids(store) == sorted(r["eventID"] for r in ok)


def test_bad_lines_and_lookup_events_are_named(store: LocalStore, tmp_path: Path) -> None:
    ok = [variant(RECORDS[i], 20 + i) for i in range(4)]
    write_jsonl(tmp_path / "a.jsonl", [ok[0], '{"eventID": "x", "eventTime": ', ok[1],
                                       {"eventName": "NoId", "eventTime": "2024-07-30T21:31:21Z"}])
    doc = lookup_output(ok[2:])
    doc["Events"].insert(1, {"EventId": "broken"})
    (tmp_path / "lookup.json").write_text(json.dumps(doc))
    extra = variant(RECORDS[0], 30)
    write_jsonl(tmp_path / "b.jsonl", ["{oops", extra])  # a bad first line does not sink the file
    pretty = json.dumps(variant(RECORDS[1], 31), indent=2)
    (tmp_path / "cut.json").write_text(pretty[: len(pretty) // 2])  # a truncated single record
    summary = store.ingest([tmp_path])
    got = reasons(summary)
    assert got[("a.jsonl", 1)].startswith("line 2: not valid JSON")
    assert got[("a.jsonl", 3)] == "missing field eventID"
    assert got[("lookup.json", 1)] == "missing field CloudTrailEvent (a JSON string)"
    assert got[("b.jsonl", 0)].startswith("line 1: not valid JSON")
    assert got[("cut.json", None)] == "truncated: the JSON ends early"
    assert (summary.added, summary.rejected) == (5, 5)
    assert extra["eventID"] in ids(store)


def test_rejects_report_as_dict(store: LocalStore, tmp_path: Path) -> None:
    write_delivery(tmp_path / "x.json", [{"eventTime": "2024-07-30T21:31:21Z"}])
    report = store.ingest([tmp_path]).as_dict()
    assert report == {"files": 1, "records": 1, "events_added": 0, "duplicates_skipped": 0,
                      "records_rejected": 1,
                      "rejects": [{"file": str(tmp_path / "x.json"), "record": 0,
                                   "reason": "missing field eventID"}]}


# -- an interrupted ingest -----------------------------------------------------------------------
def test_an_interrupted_batch_leaves_the_store_as_it_was_before_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    first = write_delivery(tmp_path / "a" / "1.json", [variant(RECORDS[i], i) for i in range(3)])
    write_delivery(tmp_path / "b" / "2.json", [variant(RECORDS[i], 10 + i) for i in range(4)])
    db = tmp_path / "events.duckdb"
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 2:  # the second batch's rows are written but not committed
            raise KeyboardInterrupt

    with LocalStore(db) as s:
        with pytest.raises(KeyboardInterrupt):
            # one file a batch, in path order
            Ingestor(s.con, batch_bytes=1).ingest([tmp_path / "a", tmp_path / "b"], progress=progress)
        assert calls == [(0, 2), (1, 2), (2, 2)]
        assert s.count() == 3
        assert list(tmp.iterdir()) == []  # no inflated copy left behind
        assert not [t for t in threading.enumerate() if t.name.startswith("trailhound-")]  # no thread either
        assert ids(s) == sorted(json.loads(first.read_text())["Records"][i]["eventID"] for i in range(3))
        # Nothing of the interrupted batch is left behind: the next run loads it completely.
        again = s.ingest([tmp_path])
        assert (again.added, again.duplicates) == (4, 3)
    with LocalStore(db) as s:
        assert s.count() == 7


def test_an_interrupt_inside_the_database_work_rolls_back_too(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_delivery(tmp_path / "1.json", [variant(RECORDS[0], 1)])
    write_delivery(tmp_path / "2.json", [variant(RECORDS[1], 2), variant(RECORDS[2], 3)])
    s = LocalStore(":memory:")
    ingestor = Ingestor(s.con, batch_bytes=1)
    real = Ingestor._insert_files
    seen: list[int] = []

    def insert_then_fail(self: Ingestor, *args: Any) -> Any:
        result = real(self, *args)
        seen.append(result)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Ingestor, "_insert_files", insert_then_fail)
    with pytest.raises(KeyboardInterrupt):
        ingestor.ingest([tmp_path])
    assert seen == [1, 2]  # the second batch had inserted its rows ...
    assert s.count() == 1  # ... and they were rolled back
    s.close()


def test_nothing_is_left_in_the_session_after_a_run(store: LocalStore, tmp_path: Path) -> None:
    write_delivery(tmp_path / "a.json", RECORDS)
    store.ingest([tmp_path])
    tables = {r[0] for r in store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"events"}


def test_many_files_in_several_batches_match_one_batch(tmp_path: Path) -> None:
    n = delivery_tree(tmp_path, n_files=12, per_file=5)
    write_delivery(tmp_path / "zz-repeats.json", [RECORDS[0], RECORDS[0], variant(RECORDS[0], 0)])
    one_batch, many, branches = LocalStore(":memory:"), LocalStore(":memory:"), LocalStore(":memory:")
    a = one_batch.ingest([tmp_path])
    b = Ingestor(many.con, batch_bytes=20_000).ingest([tmp_path])  # about 3 files a batch
    branches.con.execute("SET threads = 3")
    c = Ingestor(branches.con, parallel_min_records=0).ingest([tmp_path])  # one insert branch per thread
    assert a.as_dict() == b.as_dict() == c.as_dict()
    assert (a.added, a.duplicates) == (n + 1, 2)
    q = "SELECT eventID, eventTime, userIdentity, requestParameters, resources, eventJson FROM events ORDER BY 1"
    assert one_batch.con.execute(q).fetchall() == many.con.execute(q).fetchall() == branches.con.execute(q).fetchall()


# -- how delivery files reach DuckDB -------------------------------------------------------------
def test_delivery_files_in_every_encoding_and_name_load_the_same(store: LocalStore, tmp_path: Path) -> None:
    recs = [variant(RECORDS[i % len(RECORDS)], 70 + i) for i in range(8)]
    body = json.dumps({"Records": recs[:2]}).encode()
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + body)  # a byte-order mark
    (tmp_path / "bom.json.gz").write_bytes(gzip.compress(b"\xef\xbb\xbf" + json.dumps({"Records": recs[2:4]}).encode()))
    write_delivery(tmp_path / "odd [name] *.json", recs[4:5])  # characters DuckDB would read as a glob
    write_delivery(tmp_path / "odd [name] *.json.gz", recs[5:6])
    # Two gzip members in one file (what `cat a.gz b.gz` gives): one JSON document split in two.
    doc = json.dumps({"Records": recs[6:8]}).encode()
    (tmp_path / "members.json.gz").write_bytes(gzip.compress(doc[:40]) + gzip.compress(doc[40:]))
    summary = store.ingest([tmp_path])
    assert (summary.added, summary.rejected, summary.files) == (8, 0, 5), summary.rejects
    assert ids(store) == sorted(r["eventID"] for r in recs)


@pytest.mark.parametrize("length", [5_000, 65_536 * 3 - 70, 65_536 * 3 - 1, 65_536 * 3, 65_536 * 3 + 30, 65_536 * 5 + 63])
def test_large_files_reach_duckdb_as_their_records_array_byte_for_byte(tmp_path: Path, length: int) -> None:
    """Gzip is inflated in pieces: the array must come out whole wherever the pieces end (here
    the document's length puts its closing bytes around a piece boundary), in one gzip member or
    two, with a byte-order mark or without."""
    from trailhound.store.inputs import _array_copy

    texts = [json.dumps(variant(RECORDS[i % len(RECORDS)], 200 + i), indent=i % 3 or None) for i in range(400)]
    array = "[" + ",\n".join(texts) + "]"
    head, tail = '{"Records": ', "}\n"
    while len(head) + len(array) + len(tail) > length and len(texts) > 1:
        texts.pop()
        array = "[" + ",\n".join(texts) + "]"
    array = array[:-1] + " " * (length - len(head) - len(array) - len(tail)) + "]"
    doc = (head + array + tail).encode()
    assert len(doc) == length
    cut = length // 2
    for name, data in {"one.json.gz": gzip.compress(doc), "two.json.gz": gzip.compress(doc[:cut]) + gzip.compress(doc[cut:]),
                       "bom.json.gz": gzip.compress(b"\xef\xbb\xbf" + doc), "plain.json": doc}.items():
        (tmp_path / name).write_bytes(data)
        read, size, first_id = _array_copy(tmp_path / name, name.endswith(".gz"), tmp_path / f"{name}.array")
        assert Path(read).read_bytes() == array.encode(), name
        assert size == len(array.encode()) and first_id == json.loads(texts[0])["eventID"]


@pytest.mark.parametrize("inflater", ["zlib-ng", "zlib"])
def test_gzip_is_inflated_whole_or_named_broken_by_either_zlib(
        monkeypatch: pytest.MonkeyPatch, inflater: str) -> None:
    """zlib-ng's ``_ZlibDecompressor`` inflates; a zlib without it (Python 3.11's, when zlib-ng
    is missing) goes through ``_ZlibShim``. Both give every byte of every member, in pieces of
    at most ``_PIECE``, and name a stream cut short, broken, or followed by other data."""
    from trailhound.store import inputs
    from trailhound.store.inputs import _PIECE, FileError, _inflated

    if inflater == "zlib":
        monkeypatch.setattr(inputs, "_gzip_member", inputs._ZlibShim)
    # A document that inflates to several pieces from few compressed bytes, and one that does not.
    doc = json.dumps({"Records": [variant(RECORDS[i % len(RECORDS)], i) for i in range(300)]}).encode()
    runs = b"x" * (_PIECE * 3 + 17)
    for data in (doc, runs, doc[:10]):
        whole = gzip.compress(data)
        pieces = list(_inflated(whole))
        assert b"".join(pieces) == data and all(0 < len(p) <= _PIECE for p in pieces)
        two = gzip.compress(data[:7]) + gzip.compress(data[7:]) + b"\0" * 5  # two members, zero padding
        assert b"".join(_inflated(two)) == data
        for cut in (len(whole) // 3, len(whole) - 4, len(whole) - 1):
            with pytest.raises(FileError, match=r"^unreadable or truncated compressed file"):
                b"".join(_inflated(whole[:cut]))
    with pytest.raises(FileError, match=r"data after the end of the gzip stream"):
        b"".join(_inflated(gzip.compress(doc) + b"not gzip"))
    broken = bytearray(gzip.compress(doc))
    broken[20:40] = b"\xff" * 20
    with pytest.raises(FileError, match=r"^unreadable or truncated compressed file \("):
        b"".join(_inflated(bytes(broken)))


def test_a_broken_gzip_stream_is_named_and_the_rest_kept(store: LocalStore, tmp_path: Path) -> None:
    write_delivery(tmp_path / "good.json.gz", [variant(RECORDS[0], 80)])
    big = gzip.compress(json.dumps({"Records": [variant(RECORDS[0], 100 + i) for i in range(50)]}).encode())
    (tmp_path / "trailing.json.gz").write_bytes(big + b"not gzip")  # past what the sniffing reads
    corrupt = bytearray(gzip.compress(json.dumps({"Records": [variant(RECORDS[1], 81)] * 50}).encode()))
    corrupt[20:40] = b"\xff" * 20
    (tmp_path / "corrupt.json.gz").write_bytes(bytes(corrupt))
    summary = store.ingest([tmp_path])
    got = reasons(summary)
    assert set(got) == {("trailing.json.gz", None), ("corrupt.json.gz", None)}, got
    assert got[("trailing.json.gz", None)] == "unreadable compressed file (data after the end of the gzip stream)"
    assert got[("corrupt.json.gz", None)].startswith("unreadable or truncated compressed file (")
    assert summary.added == 1


def test_inflated_copies_take_turns_in_two_directories_removed_at_the_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's inflated files are written over those of the batch two before (the next batch
    is inflated while this one loads); the ingest's temporary directory goes when it ends."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    for i in range(5):
        write_delivery(tmp_path / "in" / f"{i}.json.gz", [variant(RECORDS[i], 90 + i)])
    seen: list[list[Path]] = []
    s = LocalStore(":memory:")
    summary = Ingestor(s.con, batch_bytes=1).ingest(  # one file a batch
        [tmp_path / "in"], progress=lambda done, total: seen.append(sorted(tmp.rglob("*.json"))))
    assert summary.added == 5 and s.count() == 5
    assert all(len(files) <= 2 for files in seen) and max(map(len, seen)) == 2
    assert len({f.parent.parent for files in seen for f in files}) == 1  # one directory for the ingest
    assert len({f for files in seen for f in files}) == 2  # five batches, two files written over
    assert list(tmp.iterdir()) == []
    s.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_the_inflating_threads_give_way_to_duckdbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next batch is inflated while DuckDB loads this one: its threads run ``NICE`` lower."""
    import os
    import threading

    from trailhound.store import inputs

    seen: list[int] = []
    copy = inputs._array_copy

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return copy(*args, **kwargs)

    monkeypatch.setattr(inputs, "_array_copy", watched)
    for i in range(3):
        write_delivery(tmp_path / f"{i}.json.gz", [variant(RECORDS[i], 140 + i)])
    s = LocalStore(":memory:")
    assert s.ingest([tmp_path]).added == 3
    s.close()
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(19, mine + inputs.NICE)] * 3


def test_an_unwritable_temporary_directory_is_one_clear_error(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from trailhound.errors import StoreError

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "does-not-exist"))  # as if TMPDIR named it
    write_delivery(tmp_path / "in" / "a.json.gz", [variant(RECORDS[0], 99)])
    s = LocalStore(":memory:")
    with pytest.raises(StoreError, match=r"set TMPDIR to a writable directory") as err:
        s.ingest([tmp_path / "in"])
    assert "\n" not in str(err.value)
    assert s.count() == 0
    s.close()


def test_event_json_is_each_records_text_as_the_file_holds_it(store: LocalStore, tmp_path: Path) -> None:
    recs = [variant(RECORDS[i], 120 + i) for i in range(3)]
    texts = [json.dumps(recs[0]), json.dumps(recs[1], separators=(",", ":")), json.dumps(recs[2], indent=1)]
    body = '{ "Records" : [ ' + " ,\n ".join(texts) + " ] }\n"
    (tmp_path / "spaced.json.gz").write_bytes(gzip.compress(body.encode()))
    assert store.ingest([tmp_path]).added == 3
    for rec, text in zip(recs, texts, strict=True):
        assert col(store, "eventJson", rec["eventID"]) == text


def test_other_top_level_keys_and_repeats_keep_each_kept_records_text(store: LocalStore, tmp_path: Path) -> None:
    first, other = variant(RECORDS[0], 130), variant(RECORDS[1], 131)
    later = {**first, "eventName": "LaterCopy"}  # same eventID, different content: the first copy wins
    texts = [json.dumps(first, indent=1), json.dumps(later), json.dumps(other, indent=2)]
    (tmp_path / "a.json").write_text('{"Records": [' + ", ".join(texts) + "]}")
    doc = {"Records": [variant(RECORDS[2], 132)], "digest": {"x": 1}}  # a key after Records
    (tmp_path / "b.json").write_text(json.dumps(doc))
    summary = store.ingest([tmp_path])
    assert (summary.added, summary.duplicates, summary.rejected) == (3, 1, 0), summary.rejects
    assert col(store, "eventJson", first["eventID"]) == texts[0]
    assert col(store, "eventName", first["eventID"]) == first["eventName"]
    assert col(store, "eventJson", other["eventID"]) == texts[2]
    assert json.loads(col(store, "eventJson", doc["Records"][0]["eventID"])) == doc["Records"][0]


def test_probe_tells_kind_compression_and_json_bytes_from_one_open(tmp_path: Path) -> None:
    from trailhound.store.inputs import DELIVERY, JSONL, probe

    doc = delivery_json(RECORDS[:2])
    gz = write_delivery(tmp_path / "named-plain.json", RECORDS[:2], gz=True)  # gzip, whatever its name
    plain = write_jsonl(tmp_path / "lines.jsonl", RECORDS[:2])
    assert probe(gz) == (DELIVERY, True, len(doc))
    assert probe(plain) == (JSONL, False, plain.stat().st_size)


def test_probe_names_a_gzip_file_cut_in_its_first_bytes(tmp_path: Path) -> None:
    from trailhound.store.inputs import FileError, probe

    whole = gzip.compress(json.dumps({"Records": RECORDS}).encode())
    (tmp_path / "cut.json.gz").write_bytes(whole[:300])  # ends before 4 KB of JSON came out
    with pytest.raises(FileError, match=r"^unreadable or truncated compressed file \(Compressed file ended"):
        probe(tmp_path / "cut.json.gz")


def test_find_files_lists_each_loadable_file_once_in_path_order(tmp_path: Path) -> None:
    from trailhound.errors import UserInputError
    from trailhound.store.inputs import find_files

    logs = tmp_path / "logs"
    for rel in ("a/b.json.gz", "a-b/x.json", "a/c/d.jsonl", "z.ndjson", "a/.hidden.json", "a/notes.txt"):
        (logs / rel).parent.mkdir(parents=True, exist_ok=True)
        (logs / rel).write_text("{}")
    (logs / "a" / "again.json").symlink_to(logs / "z.ndjson")  # a link to a listed file: read once
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "e.json").write_text("{}")
    (logs / "linked-dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)  # not followed

    # Path order (by components, as pathlib sorts): a/... before a-b/...; hidden and unknown suffixes left out.
    got = find_files([logs, logs / "z.ndjson", logs / "a" / "b.json.gz"])
    assert [p.relative_to(logs).as_posix() for p in got] == ["a/again.json", "a/b.json.gz", "a/c/d.jsonl",
                                                            "a-b/x.json"]
    assert find_files([logs / "z.ndjson", logs])[0] == logs / "z.ndjson"  # named first, listed first
    assert len(find_files([logs / "z.ndjson", logs])) == 4
    with pytest.raises(UserInputError, match="no-such: no such file or directory"):
        find_files([tmp_path / "no-such"])


def test_a_large_load_flushes_the_store_file_while_it_runs_and_stops_after(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A large load (at least one batch) asks the disk for the store file's pages as they are
    written, so that each COMMIT has little left to wait for; the flushing ends with the load."""
    import os
    import threading

    from trailhound.store import ingest

    n = delivery_tree(tmp_path / "logs")
    flushed: list[str] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(ingest, "FLUSH_SECONDS", 0.0005)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    db = tmp_path / "events.duckdb"
    with LocalStore(db) as s:
        assert Ingestor(s.con, batch_bytes=1).ingest([tmp_path / "logs"]).added == n
        assert flushed and set(flushed) == {str(db.resolve())}
        assert not [t for t in threading.enumerate() if t.name == "trailhound-flush"]
        after = len(flushed)
        assert Ingestor(s.con).ingest([tmp_path / "logs"]).duplicates == n  # small: no flushing
        assert len(flushed) == after
    with LocalStore(":memory:") as m:  # nothing to flush
        assert Ingestor(m.con, batch_bytes=1).ingest([tmp_path / "logs"]).added == n
    assert len(flushed) == after


@pytest.mark.parametrize("cuts", [[], [1], [5, 6, 7], [30, 31], [-3, -2, -1], [-70, -64, -1], list(range(1, 200, 3))])
@pytest.mark.parametrize("tail", ["}", "}\n", " } \n\n", "}" + " " * 40])
def test_the_records_array_is_copied_byte_for_byte_however_the_inflated_pieces_fall(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cuts: list[int], tail: str) -> None:
    from trailhound.store import inputs
    from trailhound.store.inputs import _copy_array

    monkeypatch.setattr(inputs, "_PIECE", 32)  # the head is read up to 32 bytes, the rest piece by piece

    array = json.dumps(RECORDS[:2], indent=1)
    doc = ('\ufeff{ "Records" :' + array + tail).encode()
    at = sorted({c % len(doc) for c in cuts} - {0})
    pieces = [doc[i:j] for i, j in zip([0, *at], [*at, len(doc)], strict=True)]
    with open(tmp_path / "out.json", "wb") as out:
        got = _copy_array(iter(pieces), out)
    assert got is not None and got[0] == len(array.encode())
    assert got[1] in (RECORDS[0]["eventID"], None)  # a guess from the first bytes read: None if not there
    assert (tmp_path / "out.json").read_text() == array


def _pieces(doc: bytes, cuts: list[int]) -> list[bytes]:
    at = sorted({c % len(doc) for c in cuts} - {0})
    return [doc[i:j] for i, j in zip([0, *at], [*at, len(doc)], strict=True)]


@pytest.mark.parametrize("cuts", [[], [1], [13], [14], [15], [30, 31], [-3, -2, -1], list(range(1, 400, 7)),
                                  list(range(1, 4000, 3))])
@pytest.mark.parametrize("tail", ["}", "}\n", " } \n\n"])
def test_records_written_one_a_line_turn_back_into_the_array_byte_for_byte(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cuts: list[int], tail: str) -> None:
    """Every separator between two records becomes a line break wherever the inflated pieces
    cut it (the cuts at 13-15 and every 3rd byte fall inside separators), and nothing else
    changes: ``as_array`` gives back the array the file holds."""
    from trailhound.store import inputs
    from trailhound.store.inputs import _copy_array, as_array

    monkeypatch.setattr(inputs, "_PIECE", 32)
    records = [{"eventVersion": "1.08", "eventID": f"id-{i}", "requestParameters": {"items": [{"a": i}, {"b": "},{"}]},
                "note": 'a "quoted" },{\"eventVersion\": text'} for i in range(5)]
    array = json.dumps(records, separators=(",", ":"))
    doc = ('{"Records":' + array + tail).encode()
    with open(tmp_path / "out.json", "wb") as out:
        got = _copy_array(iter(_pieces(doc, cuts)), out, lines=True)
    written = (tmp_path / "out.json").read_text()
    assert got is not None and got[0] == len(written.encode())
    assert written.split("\n") == [json.dumps(r, separators=(",", ":")) for r in records]
    as_array(tmp_path / "out.json")
    assert (tmp_path / "out.json").read_text() == array


def test_an_array_with_its_own_line_breaks_or_spaces_is_copied_as_it_stands(tmp_path: Path) -> None:
    from trailhound.store.inputs import _array_copy

    records = [{"eventVersion": "1.08", "eventID": f"id-{i}"} for i in range(3)]
    arrays = {"pretty.json": json.dumps(records, indent=1), "spaced.json": json.dumps(records),
              "breaks.json": json.dumps(records, separators=(",", ":")).replace("},{", "},\n{")}
    for name, array in arrays.items():
        (tmp_path / name).write_text('{"Records":' + array + "}\n")
        read, size, first_id = _array_copy(tmp_path / name, False, tmp_path / f"{name}.out")
        assert Path(read).read_text() == array, name
        assert (size, first_id) == (len(array), "id-0")
    if LAYOUT["now"] == "cloudtrail":  # as CloudTrail lays it out: one record a line
        (tmp_path / "cloudtrail.json").write_bytes(delivery_json(records))
        read, _, _ = _array_copy(tmp_path / "cloudtrail.json", False, tmp_path / "cloudtrail.out")
        assert Path(read).read_text().split("\n") == [json.dumps(r, separators=(",", ":")) for r in records]


def test_a_record_nesting_the_separator_loads_whole_from_the_array(store: LocalStore, tmp_path: Path) -> None:
    """A record holding a list of objects whose first key is eventVersion (not seen in CloudTrail)
    is cut in two by the lines; DuckDB rejects both halves and the batch is read again as arrays:
    every record loads, each with its own text."""
    inner = variant(RECORDS[0], 90, requestParameters={"events": [{"a": 1}, {"eventVersion": "x", "b": 2}]})
    records = [variant(RECORDS[1], 91), inner, variant(RECORDS[2], 92)]
    write_delivery(tmp_path / "nested.json.gz", records)
    write_delivery(tmp_path / "plain.json.gz", [variant(RECORDS[3], 93)])
    summary = store.ingest([tmp_path])
    assert (summary.added, summary.rejected) == (4, 0)
    got = store.query("SELECT eventJson FROM $EDS_ID WHERE eventID = $ID", {"ID": inner["eventID"]}).rows
    assert json.loads(got[0]["eventJson"]) == inner



def test_the_careful_load_of_a_record_nesting_the_separator_still_names_the_rejects(
        store: LocalStore, tmp_path: Path) -> None:
    """A batch holding stored events is loaded the careful way, with records cut out of its
    files before the insert: a file whose lines would break must not fail the insert after the
    cut, or the cut records' reasons would be lost."""
    stored = [variant(RECORDS[0], 100 + i) for i in range(2)]
    write_delivery(tmp_path / "a.json.gz", stored)
    store.ingest([tmp_path])
    nested = variant(RECORDS[1], 110, requestParameters={"events": [{"a": 1}, {"eventVersion": "x"}]})
    write_delivery(tmp_path / "b.json.gz", [variant(RECORDS[2], 111), nested])
    no_id = {k: v for k, v in variant(RECORDS[3], 112).items() if k != "eventID"}
    write_delivery(tmp_path / "c.json.gz", [variant(RECORDS[3], 113), no_id])
    summary = store.ingest([tmp_path])
    assert reasons(summary) == {("c.json.gz", 1): "missing field eventID"}
    assert (summary.records, summary.added, summary.duplicates) == (6, 3, 2)
    assert len(ids(store)) == 5


def test_after_a_careful_batch_the_run_inflates_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines serve the direct load only: once a batch of the run goes the careful way (here, a
    re-ingest), every batch inflated after that is written as arrays, which it reads. The next
    batch starts inflating once this one's way is known, so only the first (inflated before the
    store is looked at) was written as lines for nothing."""
    from trailhound.store import inputs
    from trailhound.store.inputs import Prefetch

    started: list[bool] = []
    start = inputs._Inflater.start

    def watched(self: Any, files: Any, *, last: bool = True, lines: bool = True) -> Any:
        started.append(lines)
        return start(self, files, last=last, lines=lines)

    monkeypatch.setattr(inputs._Inflater, "start", watched)
    for i in range(6):
        write_delivery(tmp_path / "logs" / f"{i}.json.gz", [variant(RECORDS[i % len(RECORDS)], 400 + i)])
    with LocalStore(tmp_path / "s.duckdb") as s:
        with Prefetch([tmp_path / "logs"], batch_bytes=1) as first:  # one file a batch
            assert Ingestor(s.con, batch_bytes=1).ingest(first).added == 6
        assert started == [True] * 6
        started.clear()
        with Prefetch([tmp_path / "logs"], batch_bytes=1) as again:
            summary = Ingestor(s.con, batch_bytes=1).ingest(again)
        assert (summary.added, summary.duplicates) == (0, 6)
        assert started == [True] + [False] * 5
