"""The CloudTrail Lake engine against botocore's Stubber (moto implements no Lake query API)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from trailhound import cli
from trailhound.errors import QueryFailedError, SqlError, StoreError, UserInputError
from trailhound.store import lake as lake_module
from trailhound.store import open_store
from trailhound.store._remote import Kind, RetryPolicy, infer_kinds, parse_array
from trailhound.store.lake import LakeStore, from_spec, strip_leading_comments

from tests.adapters.conftest import FakeTime

EDS_ID = "EXAMPLE0-f852-4e8f-8bd1-bcf6cEXAMPLE"
EDS_ARN = f"arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/{EDS_ID}"
START, END = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC), dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
WINDOW = {"START_TIME": START, "END_TIME": END}
Q1 = "0f6b2c3e-1111-4a5b-9c8d-000000000001"
Q9 = "0f6b2c3e-9999-4a5b-9c8d-000000000009"
QSLOW = "0f6b2c3e-5555-4a5b-9c8d-00000000005a"
DETECTION_SQL = """/*
id: example
lookback: 1h
*/
SELECT array_agg(eventID) AS event_ids, min(eventTime) AS first_seen, max(eventTime) AS last_seen,
       userIdentity.arn AS actor_arn, count(*) AS n_events, arbitrary(readOnly) AS read_only,
       sum(1) AS total
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
GROUP BY userIdentity.arn"""


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("TRAILHOUND_STORE", raising=False)  # AWS isolation: tests/conftest.py


@pytest.fixture
def client() -> Any:
    return boto3.client("cloudtrail", region_name="us-east-1")


def make_store(client: Any, fake_time: FakeTime, *, timeout_s: float = 60.0, ref: str = EDS_ID) -> LakeStore:
    policy = RetryPolicy(timeout_s=timeout_s, sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(7))
    return LakeStore(ref, client, policy=policy)


def described(status: str, *, message: str | None = None, bytes_scanned: int = 4096) -> dict[str, Any]:
    resp: dict[str, Any] = {
        "QueryId": Q1, "QueryString": "SELECT ...", "QueryStatus": status,
        "QueryStatistics": {"EventsMatched": 3, "EventsScanned": 1200, "BytesScanned": bytes_scanned,
                            "ExecutionTimeInMillis": 1500},
    }
    if message:
        resp["ErrorMessage"] = message
    return resp


def row(actor: str, ids: list[str], n: int, *, first: str = "2026-11-27 09:05:00.000",
        last: str = "2026-11-27 09:45:10.500") -> list[dict[str, str]]:
    return [{"event_ids": "[" + ", ".join(ids) + "]"}, {"first_seen": first}, {"last_seen": last},
            {"actor_arn": actor}, {"n_events": str(n)}, {"read_only": "false"}, {"total": str(n)}]


def page(rows: list[list[dict[str, str]]], token: str | None) -> dict[str, Any]:
    resp: dict[str, Any] = {"QueryStatus": "FINISHED", "QueryResultRows": rows,
                            "QueryStatistics": {"ResultsCount": len(rows), "TotalResultsCount": 4}}
    if token:
        resp["NextToken"] = token
    return resp


def expect_start(stub: Stubber, query_id: str = Q1) -> None:
    stub.add_response("start_query", {"QueryId": query_id}, {"QueryStatement": ANY})


def expect_pages(stub: Stubber, pages: list[tuple[list[list[dict[str, str]]], str | None]]) -> None:
    token = None
    for rows, next_token in pages:
        params: dict[str, Any] = {"QueryId": Q1, "MaxQueryResults": 1000}
        if token:
            params["NextToken"] = token
        stub.add_response("get_query_results", page(rows, next_token), params)
        token = next_token


# -- the happy path: three pages ------------------------------------------------------------------
def test_three_pages_typed_rows_and_costs(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_start(stub)
    stub.add_response("describe_query", described("QUEUED"), {"QueryId": Q1})
    stub.add_response("describe_query", described("RUNNING"), {"QueryId": Q1})
    stub.add_response("describe_query", described("FINISHED", bytes_scanned=987654), {"QueryId": Q1})
    expect_pages(stub, [
        ([row("arn:aws:iam::111122223333:user/alice", ["e-1", "e-2"], 2)], "tok-1"),
        ([row("arn:aws:iam::111122223333:user/bob", ["e-3"], 1)], "tok-2"),
        ([row("arn:aws:sts::111122223333:assumed-role/r/s", ["e-4"], 1),
          [{"event_ids": "[]"}, {"actor_arn": "arn:aws:iam::111122223333:user/none"}]], None),
    ])
    store = make_store(client, fake_time)
    result = store.query(DETECTION_SQL, WINDOW)

    assert result.query_id == Q1
    assert result.bytes_scanned == 987654
    assert result.extra["execution_ms"] == 1500
    assert result.elapsed_s == pytest.approx(sum(fake_time.sleeps))
    assert fake_time.sleeps[:2] == [0.5, 0.75]  # backoff while QUEUED/RUNNING
    assert f"FROM {EDS_ID}" in result.sql and "/*" not in result.sql
    assert result.columns == ["event_ids", "first_seen", "last_seen", "actor_arn", "n_events", "read_only", "total"]
    assert len(result.rows) == 4
    first = result.rows[0]
    assert first["event_ids"] == ["e-1", "e-2"]
    assert first["first_seen"] == dt.datetime(2026, 11, 27, 9, 5)
    assert first["last_seen"] == dt.datetime(2026, 11, 27, 9, 45, 10, 500000)
    assert first["n_events"] == 2 and isinstance(first["n_events"], int)
    assert first["read_only"] is False  # arbitrary(readOnly): boolean from the SQL
    assert result.rows[3]["event_ids"] == []
    assert result.rows[3]["first_seen"] is None  # a cell Lake left out is NULL


def test_types_hint_wins(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_start(stub)
    stub.add_response("describe_query", described("FINISHED"), {"QueryId": Q1})
    expect_pages(stub, [([[{"region": "us-east-1"}, {"when": "2026-11-27 09:00:00.000"}, {"ratio": "0.25"}]], None)])
    sql = ("SELECT awsRegion AS region, x AS when, y AS ratio FROM $EDS_ID "
           "WHERE eventTime >= $START_TIME AND eventTime < $END_TIME")
    result = make_store(client, fake_time).query(sql, WINDOW, types={"when": "timestamp", "ratio": "double"})
    assert result.rows == [{"region": "us-east-1", "when": dt.datetime(2026, 11, 27, 9), "ratio": 0.25}]


def test_no_rows_still_has_the_columns(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_start(stub)
    stub.add_response("describe_query", described("FINISHED"), {"QueryId": Q1})
    expect_pages(stub, [([], None)])
    result = make_store(client, fake_time).query(DETECTION_SQL, WINDOW)
    assert result.rows == [] and result.columns[:3] == ["event_ids", "first_seen", "last_seen"]


# -- retries --------------------------------------------------------------------------------------
def test_throttle_then_success(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    stub.add_client_error("start_query", service_error_code="ThrottlingException",
                          service_message="Rate exceeded", http_status_code=400)
    expect_start(stub)
    stub.add_client_error("describe_query", service_error_code="ThrottlingException",
                          service_message="Rate exceeded", http_status_code=400)
    stub.add_response("describe_query", described("FINISHED"), {"QueryId": Q1})
    expect_pages(stub, [([row("arn:a", ["e-1"], 1)], None)])
    result = make_store(client, fake_time).query(DETECTION_SQL, WINDOW)
    assert [r["event_ids"] for r in result.rows] == [["e-1"]]
    # two retry waits, jittered between half and all of the exponential step (1 s, then 1 s)
    assert len(fake_time.sleeps) == 2
    assert all(0.5 <= s <= 1.0 for s in fake_time.sleeps)


def test_max_concurrent_queries_then_success(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    for _ in range(3):
        stub.add_client_error("start_query", service_error_code="MaxConcurrentQueriesException",
                              service_message="You are already running the maximum number of concurrent queries.",
                              http_status_code=429)
    expect_start(stub)
    stub.add_response("describe_query", described("FINISHED"), {"QueryId": Q1})
    expect_pages(stub, [([row("arn:a", ["e-1"], 1)], None)])
    result = make_store(client, fake_time).query(DETECTION_SQL, WINDOW)
    assert len(result.rows) == 1
    # exponential: 1 s, 2 s, 4 s steps, each jittered into [step/2, step]
    assert len(fake_time.sleeps) == 3
    assert all(step / 2 <= s <= step for s, step in zip(fake_time.sleeps, (1, 2, 4), strict=True))


def test_retries_give_up_with_the_aws_code(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    store = make_store(client, fake_time, timeout_s=3600)
    for _ in range(store.policy.max_retries + 1):
        stub.add_client_error("start_query", service_error_code="MaxConcurrentQueriesException",
                              service_message="maximum number of concurrent queries", http_status_code=429)
    with pytest.raises(StoreError) as err:
        store.query(DETECTION_SQL, WINDOW)
    assert str(err.value).startswith(f"lake:{EDS_ID}: StartQuery failed: MaxConcurrentQueriesException")
    assert "\n" not in str(err.value)
    assert len(fake_time.sleeps) == store.policy.max_retries


def test_retries_stop_at_the_overall_timeout(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    store = make_store(client, fake_time, timeout_s=5)
    for _ in range(3):  # waits of ~1 s and ~2 s fit in 5 s; the next (~4 s) does not
        stub.add_client_error("start_query", service_error_code="ThrottlingException",
                              service_message="Rate exceeded", http_status_code=400)
    with pytest.raises(StoreError, match="ThrottlingException"):
        store.query(DETECTION_SQL, WINDOW)
    assert fake_time.now < 5


# -- terminal states --------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "CANCELLED"])
def test_terminal_states_are_typed_errors(status: str, client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_start(stub, Q9)
    stub.add_response("describe_query", {**described("RUNNING"), "QueryId": Q9}, {"QueryId": Q9})
    stub.add_response("describe_query", {**described(status, message="Query exceeded\nthe time limit"),
                                         "QueryId": Q9}, {"QueryId": Q9})
    with pytest.raises(QueryFailedError) as err:
        make_store(client, fake_time).query(DETECTION_SQL, WINDOW)
    assert err.value.query_id == Q9 and err.value.status == status
    assert str(err.value) == f"lake:{EDS_ID}: query {Q9} {status}: Query exceeded the time limit"
    assert err.value.exit_code == 2


def test_overall_timeout_cancels_the_query(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_start(stub, QSLOW)
    store = make_store(client, fake_time, timeout_s=4.0)
    # 0.5 + 0.75 + 1.125 + 1.6875 = 4.06 s of polling: five RUNNING answers, then the deadline
    for _ in range(5):
        stub.add_response("describe_query", {**described("RUNNING"), "QueryId": QSLOW}, {"QueryId": QSLOW})
    stub.add_response("cancel_query", {"QueryId": QSLOW, "QueryStatus": "CANCELLED"}, {"QueryId": QSLOW})
    with pytest.raises(QueryFailedError) as err:
        store.query(DETECTION_SQL, WINDOW)
    assert err.value.status == "TIMEOUT" and err.value.query_id == QSLOW
    assert "cancelled" in str(err.value)
    assert fake_time.now <= 4.0 + 1e-9


# -- the store itself: unknown, inactive, not allowed ------------------------------------------------
@pytest.mark.parametrize("code,status", [
    ("EventDataStoreNotFoundException", 400),
    ("InactiveEventDataStoreException", 400),
    ("AccessDeniedException", 403),
])
def test_store_errors_are_one_line(code: str, status: int, client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    stub.add_client_error("start_query", service_error_code=code, service_message="The event data store\nis bad",
                          http_status_code=status)
    with pytest.raises(StoreError) as err:
        make_store(client, fake_time).query(DETECTION_SQL, WINDOW)
    assert str(err.value) == f"lake:{EDS_ID}: StartQuery failed: {code}: The event data store is bad"
    assert fake_time.sleeps == []  # not retried


def test_invalid_sql_is_a_sql_error(client: Any, stub: Stubber, fake_time: FakeTime) -> None:
    stub.add_client_error("start_query", service_error_code="InvalidQueryStatementException",
                          service_message="line 1:8: Column 'nope' cannot be resolved", http_status_code=400)
    with pytest.raises(SqlError) as err:
        make_store(client, fake_time).query(DETECTION_SQL, WINDOW)
    assert str(err.value) == (f"lake:{EDS_ID}: StartQuery failed: InvalidQueryStatementException: "
                              "line 1:8: Column 'nope' cannot be resolved")


@pytest.mark.parametrize("code", ["EventDataStoreNotFoundException", "AccessDeniedException",
                                  "InactiveEventDataStoreException"])
def test_cli_exit_2_without_traceback(code: str, client: Any, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(lake_module, "make_client", lambda service, **_: client)
    with Stubber(client) as stub:
        stub.add_client_error("start_query", service_error_code=code,
                              service_message=f"Event data store {EDS_ID} not usable.", http_status_code=400)
        status = cli.main(["query", "SELECT eventID FROM $EDS_ID WHERE eventTime >= $START_TIME AND "
                           "eventTime < $END_TIME", "--param", "START_TIME=2026-11-27T09:00:00Z",
                           "--param", "END_TIME=2026-11-27T10:00:00Z", "--store", f"lake:{EDS_ARN}"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"trailhound: error: lake:{EDS_ARN}: StartQuery failed: {code}: ")


def test_cli_query_prints_rows(client: Any, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(lake_module, "make_client", lambda service, **_: client)
    with Stubber(client) as stub:
        stub.add_response("start_query", {"QueryId": Q1},
                          {"QueryStatement": f"SELECT eventID, eventTime FROM {EDS_ID} WHERE eventTime >= "
                                             "TIMESTAMP '2026-11-27 09:00:00.000' AND eventTime < "
                                             "TIMESTAMP '2026-11-27 10:00:00.000'"})
        stub.add_response("describe_query", described("FINISHED"), {"QueryId": Q1})
        stub.add_response("get_query_results", page([[{"eventID": "e-1"}, {"eventTime": "2026-11-27 09:01:02.000"}]],
                                                     None), {"QueryId": Q1, "MaxQueryResults": 1000})
        status = cli.main(["query", "SELECT eventID, eventTime FROM $EDS_ID WHERE eventTime >= $START_TIME AND "
                           "eventTime < $END_TIME", "--param", "START_TIME=2026-11-27T09:00:00Z",
                           "--param", "END_TIME=2026-11-27T10:00:00Z", "--store", f"lake:{EDS_ID}",
                           "--format", "json"])
    out = capsys.readouterr().out
    assert status == 0
    assert '"eventTime": "2026-11-27T09:01:02Z"' in out and '"eventID": "e-1"' in out


def test_bad_store_reference_is_user_error() -> None:
    with pytest.raises(UserInputError, match="expected an event data store id"):
        from_spec("not/an id")
    assert cli.main(["query", "SELECT 1", "--store", "lake:bad id!"]) == 2


# -- construction, endpoints, compile -------------------------------------------------------------------
def test_endpoint_env_vars_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", "http://localhost:4599")
    store = from_spec(EDS_ID)
    assert store.client.meta.endpoint_url == "http://localhost:4599"
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDTRAIL")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    assert from_spec(EDS_ID).client.meta.endpoint_url == "http://localhost:4566"


def test_store_from_environment_and_arn_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAILHOUND_STORE", f"lake:{EDS_ARN}")
    store = open_store()
    assert isinstance(store, LakeStore)
    assert store.eds_id == EDS_ID and store.name == f"lake:{EDS_ARN}"
    assert store.client.meta.region_name == "eu-west-1"  # the store's Region, from its ARN


def test_compile_uses_the_id_and_binds_safely() -> None:
    store = LakeStore(EDS_ARN)
    sql = store.compile("-- note\nSELECT * FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME "
                        "AND userIdentity.arn = $ACTOR_ARN", {**WINDOW, "actor_arn": "x' OR '1'='1"})
    assert sql == (f"SELECT * FROM {EDS_ID} WHERE eventTime >= TIMESTAMP '2026-11-27 09:00:00.000' "
                   "AND eventTime < TIMESTAMP '2026-11-27 10:00:00.000' AND userIdentity.arn = 'x'' OR ''1''=''1'")
    assert strip_leading_comments("/* a */\n-- b\n  SELECT 1 /* kept */") == "SELECT 1 /* kept */"


def test_query_without_client_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="no CloudTrail client"):
        LakeStore(EDS_ID).query("SELECT 1 FROM $EDS_ID")


def test_types_inferred_from_the_sql() -> None:
    kinds = infer_kinds(
        "SELECT approx_distinct(sourceIPAddress) AS ips, cardinality(array_agg(eventID)) AS n, "
        "max_by(eventTime, eventTime) AS latest, contains(array_agg(eventName), 'X') AS has_x, "
        "date_add('minute', 5, min(eventTime)) AS later, split(userAgent, '/') AS parts, "
        "CAST(count(*) AS DOUBLE) AS ratio, eventName, date_diff('second', min(eventTime), max(eventTime)) AS s "
        "FROM t GROUP BY eventName")
    assert kinds == {"ips": Kind.BIGINT, "n": Kind.BIGINT, "latest": Kind.TIMESTAMP, "has_x": Kind.BOOLEAN,
                     "later": Kind.TIMESTAMP, "parts": Kind.ARRAY, "ratio": Kind.DOUBLE,
                     "eventname": Kind.VARCHAR, "s": Kind.BIGINT}


@pytest.mark.parametrize("text,expected", [
    ("[]", []), ("[a]", ["a"]), ("[e-1, e-2, e-3]", ["e-1", "e-2", "e-3"]), ('["a, b", "c"]', ["a, b", "c"]),
    ("[x, null]", ["x", None]),
])
def test_array_rendering(text: str, expected: list[str | None]) -> None:
    assert parse_array(text) == expected
