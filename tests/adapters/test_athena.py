"""The Athena engine against botocore's Stubber (moto's Athena returns queued rows, it runs no SQL)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from trailhound import cli
from trailhound.errors import QueryFailedError, UnsupportedSqlError, UserInputError
from trailhound.store import athena as athena_module
from trailhound.store import open_store
from trailhound.store._remote import RetryPolicy
from trailhound.store.athena import AthenaStore, from_spec

from tests.adapters.conftest import FakeTime

SPEC = "primary/security.cloudtrail_logs_pp"
QID = "a1b2c3d4-0000-4000-8000-000000000001"
WINDOW = {"START_TIME": dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC),
          "END_TIME": dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)}
SQL = """SELECT array_agg(eventID) AS event_ids, min(eventTime) AS first_seen, userIdentity.arn AS actor_arn,
       count(*) AS n_events, arbitrary(readOnly) AS read_only, avg(1.0) AS score
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME AND element_at(requestParameters, 'userName') = 'alice'
GROUP BY userIdentity.arn"""
COLUMNS = [("event_ids", "array"), ("first_seen", "timestamp"), ("actor_arn", "varchar"),
           ("n_events", "bigint"), ("read_only", "boolean"), ("score", "double")]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    for var in ("TRAILHOUND_STORE", athena_module.OUTPUT_ENV):  # AWS isolation: tests/conftest.py
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def client() -> Any:
    return boto3.client("athena", region_name="us-east-1")


def make_store(client: Any, fake_time: FakeTime, *, timeout_s: float = 60.0, **kwargs: Any) -> AthenaStore:
    policy = RetryPolicy(timeout_s=timeout_s, sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(3))
    return AthenaStore("primary", "security", "cloudtrail_logs_pp", client, policy=policy, **kwargs)


def execution(state: str, *, reason: str | None = None, error_type: int | None = None,
              scanned: int = 52_428_800) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    if error_type is not None:
        status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": error_type, "Retryable": False,
                                 "ErrorMessage": reason or ""}
    return {"QueryExecution": {
        "QueryExecutionId": QID, "Query": "SELECT ...", "StatementType": "DML", "Status": status,
        "Statistics": {"DataScannedInBytes": scanned, "EngineExecutionTimeInMillis": 2100,
                       "TotalExecutionTimeInMillis": 2600, "QueryQueueTimeInMillis": 120}}}


def data_row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


def results(rows: list[dict[str, Any]], token: str | None, *, header: bool) -> dict[str, Any]:
    body = ([data_row(*(c for c, _ in COLUMNS))] if header else []) + rows
    resp: dict[str, Any] = {"ResultSet": {
        "Rows": body,
        "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Label": c, "Type": t} for c, t in COLUMNS]}}}
    if token:
        resp["NextToken"] = token
    return resp


def expect_start(stub: Stubber, *, output: str | None = None) -> None:
    params: dict[str, Any] = {"QueryString": ANY, "WorkGroup": "primary",
                              "QueryExecutionContext": {"Database": "security"}}
    if output:
        params["ResultConfiguration"] = {"OutputLocation": output}
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, params)


def expect_results(stub: Stubber, pages: list[tuple[list[dict[str, Any]], str | None]]) -> None:
    token = None
    for i, (rows, next_token) in enumerate(pages):
        params: dict[str, Any] = {"QueryExecutionId": QID, "MaxResults": 1000}
        if token:
            params["NextToken"] = token
        stub.add_response("get_query_results", results(rows, next_token, header=i == 0), params)
        token = next_token


def test_three_pages_header_once_and_types(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_start(stub)
    stub.add_response("get_query_execution", execution("QUEUED"), {"QueryExecutionId": QID})
    stub.add_response("get_query_execution", execution("RUNNING"), {"QueryExecutionId": QID})
    stub.add_response("get_query_execution", execution("SUCCEEDED"), {"QueryExecutionId": QID})
    expect_results(stub, [
        ([data_row("[e-1, e-2]", "2026-11-27 09:05:00.000", "arn:aws:iam::111122223333:user/alice", "2", "false",
                   "1.0")], "page-2"),
        ([data_row("[e-3]", "2026-11-27 09:06:00.000", "arn:b", "1", "true", "0.5")], "page-3"),
        ([data_row("[e-4]", "2026-11-27 09:07:00.000", None, "1", None, None)], None),
    ])
    result = make_store(client, fake_time).query(SQL, WINDOW)
    assert result.query_id == QID and result.bytes_scanned == 52_428_800
    assert result.extra["engine_ms"] == 2100
    assert result.columns == [c for c, _ in COLUMNS]
    assert [r["event_ids"] for r in result.rows] == [["e-1", "e-2"], ["e-3"], ["e-4"]]
    assert result.rows[0] == {"event_ids": ["e-1", "e-2"], "first_seen": dt.datetime(2026, 11, 27, 9, 5),
                              "actor_arn": "arn:aws:iam::111122223333:user/alice", "n_events": 2,
                              "read_only": False, "score": 1.0}
    assert result.rows[2]["actor_arn"] is None and result.rows[2]["read_only"] is None
    # what was sent: the rewrite, with the partition filter of the window
    assert "\"timestamp\" BETWEEN '2026/11/27' AND '2026/11/28'" in result.sql
    assert "JSON_EXTRACT_SCALAR(requestParameters, '$.userName')" in result.sql
    assert "FROM security.cloudtrail_logs_pp" in result.sql


def test_too_many_requests_then_success(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    for _ in range(2):
        stub.add_client_error("start_query_execution", service_error_code="TooManyRequestsException",
                              service_message="Concurrent query limit exceeded", http_status_code=400)
    expect_start(stub)
    stub.add_client_error("get_query_execution", service_error_code="ThrottlingException",
                          service_message="Rate exceeded", http_status_code=400)
    stub.add_response("get_query_execution", execution("SUCCEEDED"), {"QueryExecutionId": QID})
    expect_results(stub, [([data_row("[e-1]", "2026-11-27 09:05:00.000", "arn:a", "1", "true", "1")], None)])
    result = make_store(client, fake_time).query(SQL, WINDOW)
    assert len(result.rows) == 1 and len(fake_time.sleeps) == 3


@pytest.mark.parametrize("state,error_type", [("FAILED", 1301), ("CANCELLED", None)])
def test_failed_and_cancelled(state: str, error_type: int | None, client: Any, stub: Stubber,
                              fake_time: FakeTime) -> None:
    expect_start(stub)
    stub.add_response("get_query_execution",
                      execution(state, reason="TABLE_NOT_FOUND: line 1:8: Table 'x' does\nnot exist",
                                error_type=error_type), {"QueryExecutionId": QID})
    with pytest.raises(QueryFailedError) as err:
        make_store(client, fake_time).query(SQL, WINDOW)
    assert err.value.query_id == QID and err.value.status == state
    code = f" (ErrorType {error_type})" if error_type else ""
    assert str(err.value) == (f"athena:primary/security.cloudtrail_logs_pp: query {QID} {state}{code}: "
                              "TABLE_NOT_FOUND: line 1:8: Table 'x' does not exist")


def test_timeout_stops_the_query(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_start(stub)
    for _ in range(5):  # polls at 0, 0.5, 1.25, 2.375 s, the last wait is cut to the 3 s deadline
        stub.add_response("get_query_execution", execution("RUNNING"), {"QueryExecutionId": QID})
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
    with pytest.raises(QueryFailedError) as err:
        make_store(client, fake_time, timeout_s=3).query(SQL, WINDOW)
    assert err.value.status == "TIMEOUT" and fake_time.now == pytest.approx(3.0)


@pytest.mark.parametrize("code,message", [
    ("InvalidRequestException", "WorkGroup primary is not found."),
    ("AccessDeniedException", "User is not authorized to perform: athena:StartQueryExecution"),
])
def test_cli_store_errors_exit_2(code: str, message: str, client: Any, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(athena_module, "make_client", lambda service, **_: client)
    with Stubber(client) as stub:
        stub.add_client_error("start_query_execution", service_error_code=code, service_message=message,
                              http_status_code=400)
        status = cli.main(["query", "SELECT eventID FROM $EDS_ID WHERE eventTime >= $START_TIME AND "
                           "eventTime < $END_TIME", "--param", "START_TIME=2026-11-27T09:00:00Z",
                           "--param", "END_TIME=2026-11-27T10:00:00Z", "--store", f"athena:{SPEC}"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and err.count("\n") == 1
    assert err == f"trailhound: error: athena:{SPEC}: StartQueryExecution failed: {code}: {message}\n"


def test_output_location_from_environment(client: Any, monkeypatch: pytest.MonkeyPatch, stub: Stubber,
                                          fake_time: FakeTime) -> None:
    monkeypatch.setenv(athena_module.OUTPUT_ENV, "s3://results-bucket/trailhound/")
    store = from_spec(SPEC)
    assert store.output_location == "s3://results-bucket/trailhound/"
    store.client, store.policy = client, make_store(client, fake_time).policy
    expect_start(stub, output="s3://results-bucket/trailhound/")
    stub.add_response("get_query_execution", execution("SUCCEEDED", scanned=0), {"QueryExecutionId": QID})
    expect_results(stub, [([], None)])
    result = store.query(SQL, WINDOW)
    assert result.rows == [] and result.bytes_scanned == 0


def test_endpoint_env_var_and_environment_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", "http://localhost:4610")
    monkeypatch.setenv("TRAILHOUND_STORE", f"athena:{SPEC}")
    store = open_store()
    assert isinstance(store, AthenaStore) and store.name == f"athena:{SPEC}"
    assert store.client.meta.endpoint_url == "http://localhost:4610"


@pytest.mark.parametrize("spec", ["primary", "primary/security", "primary/security.table.extra", "/db.t", "wg/db.t;x"])
def test_bad_spec(spec: str) -> None:
    with pytest.raises(UserInputError, match="expected athena:<workgroup>/<database>.<table>"):
        from_spec(spec)


def test_unportable_sql_is_rejected_before_any_call(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    with pytest.raises(UnsupportedSqlError, match="eventjson"):
        make_store(client, fake_time).query(
            "SELECT eventJson FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME", WINDOW)


def test_query_text_params_become_a_window(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    store = make_store(client, fake_time)
    sql = store.compile("SELECT eventID FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME",
                        {"start_time": "2026-11-26T23:30:00Z", "end_time": "2026-11-27 00:30:00"})
    assert "\"timestamp\" BETWEEN '2026/11/26' AND '2026/11/28'" in sql
