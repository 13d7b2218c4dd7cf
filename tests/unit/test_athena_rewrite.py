"""The Lake → Athena rewrite, injection safety of all three engines' SQL, and ``trailhound compile``."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp
from trailhound import cli
from trailhound.detections import Detection, load_detections
from trailhound.errors import UnsupportedSqlError
from trailhound.sql.athena import AthenaTable, eval_timestamp, json_path, parse_time_text, to_athena
from trailhound.sql.params import bind, table_identifier
from trailhound.store.athena import AthenaStore
from trailhound.store.lake import LakeStore
from trailhound.store.local import LocalStore

os.environ["TZ"] = "UTC"

TABLE = AthenaTable(table="cloudtrail_logs_pp", database="security")
START = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
WINDOW = {"START_TIME": START, "END_TIME": END}
WHERE = "WHERE eventTime >= $START_TIME AND eventTime < $END_TIME"


def athena(sql: str, params: dict | None = None, *, table: AthenaTable = TABLE, window: bool = True) -> str:
    values = {**WINDOW, **(params or {})}
    name = f"{table.database}.{table.table}" if table.database else table.table
    bound = bind(sql, values, table=table_identifier(name))
    return to_athena(bound, table, window=(START, END) if window else None, pretty=False)


def tree(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="athena")


def view_of(sql: str, table: str = "cloudtrail_logs_pp") -> exp.Select:
    """The derived table that replaced the event table (the first one)."""
    sub = next(s for s in tree(sql).find_all(exp.Subquery) if isinstance(s.this, exp.Select)
               and s.this.args["from_"].this.name == table)
    return sub.this


def partition_filter(view: exp.Select) -> str:
    return view.args["where"].this.sql(dialect="athena")


# -- the Lake-shaped view and the partition filter ----------------------------------------------
def test_view_converts_time_and_booleans_and_reads_only_used_columns() -> None:
    sql = athena(f"SELECT eventID, eventTime FROM $EDS_ID {WHERE} AND readOnly = false")
    view = view_of(sql)
    cols = {e.alias_or_name: e.sql(dialect="athena") for e in view.expressions}
    assert cols == {
        "eventtime": "CAST(FROM_ISO8601_TIMESTAMP(eventtime) AS TIMESTAMP) AS eventtime",
        "eventid": "eventid",
        "readonly": "readonly = 'true' AS readonly",
    }
    assert view.args["from_"].sql(dialect="athena") == "FROM security.cloudtrail_logs_pp"
    assert partition_filter(view) == "\"timestamp\" BETWEEN '2026/11/27' AND '2026/11/28'"
    # the outer query still compares eventTime, now a timestamp, with TIMESTAMP literals
    outer = tree(sql)
    assert "eventTime >= CAST('2026-11-27 09:00:00.000' AS TIMESTAMP(3))" in outer.sql(dialect="athena")


def test_partition_range_comes_from_each_select_s_own_bounds() -> None:
    sql = athena(f"""
        WITH recent AS (SELECT userIdentity.arn AS actor FROM $EDS_ID {WHERE}),
             history AS (SELECT userIdentity.arn AS actor FROM $EDS_ID
                         WHERE eventTime >= date_add('day', -30, $START_TIME) AND eventTime < $START_TIME)
        SELECT r.actor FROM recent r LEFT JOIN history h ON r.actor = h.actor WHERE h.actor IS NULL""")
    views = [s.this for s in tree(sql).find_all(exp.Subquery)
             if isinstance(s.this, exp.Select) and s.this.args.get("from_")
             and s.this.args["from_"].this.name == "cloudtrail_logs_pp"]
    assert sorted(partition_filter(v) for v in views) == [
        "\"timestamp\" BETWEEN '2026/10/28' AND '2026/11/28'",
        "\"timestamp\" BETWEEN '2026/11/27' AND '2026/11/28'",
    ]
    assert "FROM recent AS r" in sql  # CTE references are not the event table


def test_self_join_keeps_aliases_and_bounds_per_reference() -> None:
    sql = athena("""SELECT a.eventID FROM $EDS_ID AS a JOIN $EDS_ID AS b
        ON b.userIdentity.arn = a.userIdentity.arn AND b.eventTime BETWEEN $START_TIME AND date_add('hour', 6, $END_TIME)
        WHERE a.eventTime >= $START_TIME AND a.eventTime < $END_TIME""")
    subs = {s.alias: s.this for s in tree(sql).find_all(exp.Subquery) if s.alias in ("a", "b")}
    assert partition_filter(subs["a"]) == "\"timestamp\" BETWEEN '2026/11/27' AND '2026/11/28'"
    assert partition_filter(subs["b"]) == "\"timestamp\" BETWEEN '2026/11/27' AND '2026/11/28'"


def test_window_is_the_fallback_and_missing_bounds_are_an_error() -> None:
    sql = "SELECT x FROM (SELECT eventTime AS t, eventName AS x FROM $EDS_ID) WHERE t >= $START_TIME"
    assert "BETWEEN '2026/11/27' AND '2026/11/28'" in athena(sql)
    with pytest.raises(UnsupportedSqlError, match="no lower bound on eventTime"):
        athena(sql, window=False)
    only_upper = "SELECT eventName FROM $EDS_ID WHERE eventTime < $END_TIME"
    with pytest.raises(UnsupportedSqlError, match="scan the\\s+whole bucket"):
        athena(only_upper, window=False)
    only_lower = athena("SELECT eventName FROM $EDS_ID WHERE eventTime > $START_TIME", window=False)
    assert partition_filter(view_of(only_lower)) == "\"timestamp\" >= '2026/11/27'"


def test_delivery_slack_and_partition_column_are_configurable() -> None:
    table = AthenaTable(table="trail", database=None, partition_column="day", delivery_slack=dt.timedelta(0))
    sql = athena(f"SELECT eventName FROM $EDS_ID {WHERE}", table=table)
    assert partition_filter(view_of(sql, "trail")) == "\"day\" BETWEEN '2026/11/27' AND '2026/11/27'"


def test_select_star_reads_every_documented_column() -> None:
    cols = [e.alias_or_name for e in view_of(athena(f"SELECT * FROM $EDS_ID {WHERE}")).expressions]
    assert len(cols) == 29 and cols[:3] == ["eventversion", "useridentity", "eventtime"]
    assert "eventjson" not in cols and "timestamp" not in cols


# -- detail maps, addendum, identity times -----------------------------------------------------------
def test_map_lookups_become_json_lookups() -> None:
    sql = athena(f"""SELECT element_at(requestParameters, 'bucketName') AS b,
        responseElements['x-amz-acl'] AS acl,
        json_extract_scalar(element_at(requestParameters, 'policyDocument'), '$.Statement[0].Effect') AS eff
        FROM $EDS_ID {WHERE}""")
    assert ("COALESCE(JSON_EXTRACT_SCALAR(requestParameters, '$.bucketName'), "
            "NULLIF(JSON_FORMAT(JSON_EXTRACT(requestParameters, '$.bucketName')), 'null')) AS b") in sql
    assert "JSON_EXTRACT_SCALAR(responseElements, '$[\"x-amz-acl\"]')" in sql
    assert "JSON_EXTRACT_SCALAR(COALESCE(JSON_EXTRACT_SCALAR(requestParameters, '$.policyDocument')" in sql
    assert "ELEMENT_AT" not in sql.upper().replace("ELEMENT_AT(RESOURCES", "")


def test_map_lookup_keys_must_be_literals() -> None:
    with pytest.raises(UnsupportedSqlError, match="must be a string literal"):
        athena(f"SELECT element_at(requestParameters, eventName) FROM $EDS_ID {WHERE}")
    with pytest.raises(UnsupportedSqlError, match="cannot be written as an Athena JSON path"):
        json_path('a"b')
    assert json_path("userName") == "$.userName" and json_path("a b.c") == '$["a b.c"]'


def test_map_used_as_a_whole_is_rejected_with_advice() -> None:
    with pytest.raises(UnsupportedSqlError, match="is JSON text in the Athena CloudTrail table.*element_at"):
        athena(f"SELECT cardinality(requestParameters) FROM $EDS_ID {WHERE}")
    # a whole map selected or tested for NULL is fine (JSON text on Athena)
    assert "requestParameters IS NULL" in athena(f"SELECT requestParameters FROM $EDS_ID {WHERE} AND requestParameters IS NULL")


def test_addendum_is_a_struct_in_athena() -> None:
    sql = athena(f"SELECT element_at(addendum, 'originalEventID') AS orig FROM $EDS_ID {WHERE}")
    assert "addendum.originaleventid AS orig" in sql
    with pytest.raises(UnsupportedSqlError, match="addendum in the Athena CloudTrail table only has"):
        athena(f"SELECT element_at(addendum, 'other') FROM $EDS_ID {WHERE}")


def test_creation_date_is_converted_and_keeps_its_name() -> None:
    sql = athena(f"""SELECT userIdentity.sessionContext.attributes.creationDate,
        max(e.userIdentity.sessionContext.attributes.creationDate) AS newest FROM $EDS_ID AS e {WHERE}
        GROUP BY userIdentity.sessionContext.attributes.creationDate""")
    assert ("CAST(FROM_ISO8601_TIMESTAMP(userIdentity.sessionContext.attributes.creationDate) AS TIMESTAMP) "
            "AS creationdate") in sql
    assert "MAX(CAST(FROM_ISO8601_TIMESTAMP(e.userIdentity.sessionContext.attributes.creationDate) AS TIMESTAMP))" in sql


# -- what Athena does not have ------------------------------------------------------------------------
@pytest.mark.parametrize("expr,message", [
    ("eventJson", "eventjson"),
    ("managementEvent", "managementevent"),
    ("annotation", "annotation"),
    ("element_at(insightDetails, 'x')", "insightdetails"),
    ("userIdentity.sessionContext.sourceIdentity", "no field sourceidentity"),
    ("userIdentity.inScopeOf.sourceArn", "no field inscopeof"),
])
def test_lake_only_columns_are_rejected(expr: str, message: str) -> None:
    with pytest.raises(UnsupportedSqlError, match=message):
        athena(f"SELECT {expr} FROM $EDS_ID {WHERE}")


def test_an_alias_with_a_lake_only_name_is_fine() -> None:
    sql = athena(f"SELECT eventName AS annotation FROM $EDS_ID {WHERE} ORDER BY annotation")
    assert "ORDER BY annotation" in sql


def test_unnest_resources_names_athena_s_row_order() -> None:
    sql = athena(f"SELECT r.arn, r.type FROM $EDS_ID CROSS JOIN UNNEST(resources) AS r(accountid, type, arn, arnprefix) {WHERE}")
    assert "UNNEST(resources) AS r(arn, accountid, type)" in sql
    with pytest.raises(UnsupportedSqlError, match="no arnPrefix"):
        athena(f"SELECT r.arnprefix FROM $EDS_ID CROSS JOIN UNNEST(resources) AS r(accountid, type, arn, arnprefix) {WHERE}")
    with pytest.raises(UnsupportedSqlError, match="no arnPrefix"):
        athena(f"SELECT p FROM $EDS_ID CROSS JOIN UNNEST(resources) AS r(a, t, n, p) {WHERE}")


def test_rewrite_is_on_the_tree_not_the_text() -> None:
    """Look-alikes inside string literals and comments are left alone."""
    sql = athena(f"""SELECT 'element_at(requestParameters, ''k'')' AS txt, 'eventJson' AS note /* eventJson */
        FROM $EDS_ID {WHERE} AND userAgent = 'eventTime >= x'""")
    assert "'element_at(requestParameters, ''k'')' AS txt" in sql
    assert "'eventJson' AS note" in sql and "/*" not in sql
    assert "userAgent = 'eventTime >= x'" in sql


def test_output_is_valid_trino_and_quotes_odd_table_names() -> None:
    table = AthenaTable(table="trail-logs", database="sec-db")
    sql = athena(f"SELECT eventName FROM $EDS_ID {WHERE}", table=table)
    assert 'FROM "sec-db"."trail-logs"' in sql
    sqlglot.parse_one(sql, read="trino")


def test_time_helpers() -> None:
    assert parse_time_text("2026-11-27T10:00:00Z") == dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    assert parse_time_text("2026-11-27 10:00:00.123456789 UTC") == dt.datetime(2026, 11, 27, 10, 0, 0, 123456,
                                                                               tzinfo=dt.UTC)
    assert parse_time_text("yesterday") is None
    node = sqlglot.parse_one("date_add('minute', -90, TIMESTAMP '2026-11-27 10:00:00')", read="trino")
    assert eval_timestamp(node) == dt.datetime(2026, 11, 27, 8, 30, tzinfo=dt.UTC)
    assert eval_timestamp(sqlglot.parse_one("now()", read="trino")) is None


# -- injection: values never change the structure of any engine's SQL ---------------------------------
INVESTIGATION = f"""SELECT eventTime, eventName, userAgent, element_at(requestParameters, 'bucketName') AS bucket
FROM $EDS_ID {WHERE}
  AND (userIdentity.arn = $ACTOR_ARN OR userIdentity.accessKeyId = $ACCESS_KEY_ID)
  AND (userAgent = $USER_AGENT OR element_at(requestParameters, 'policy') = $POLICY)
ORDER BY eventTime"""
PAYLOADS = [
    "x' OR '1'='1",
    "'; DROP TABLE events; --",
    "arn:aws:iam::111122223333:user/a -- comment",
    "/* open comment",
    "close */ comment",
    "back\\slash\\' quote",
    'double "quoted" identifier',
    "ünïcødé ☃ 𝔘𝔫𝔦 — ‘smart’ quotes",
    "$START_TIME and $EDS_ID inside a value",
    "line one\nline two\r\n\ttab",
    '{"Statement": [{"Effect": "Allow", "Principal": "*"}]}',
]
EDS = "EXAMPLEeds0123"  # an id without dashes, so the Lake SQL also parses as Trino here


def compilers() -> dict[str, tuple[object, str]]:
    return {
        "lake": (LakeStore(EDS), "trino"),
        "athena": (AthenaStore("primary", "security", "cloudtrail_logs_pp"), "athena"),
        "duckdb": (LocalStore(":memory:"), "duckdb"),
    }


def skeleton(sql: str, dialect: str) -> tuple[str, list[str]]:
    """The SQL with every string literal blanked, and the literals' values."""
    t = sqlglot.parse_one(sql, read=dialect)
    values = [lit.this for lit in t.find_all(exp.Literal) if lit.is_string]
    for lit in list(t.find_all(exp.Literal)):
        if lit.is_string:
            lit.replace(exp.Literal.string("?"))
    return t.sql(dialect=dialect), values


def params(value: str) -> dict[str, object]:
    return {**WINDOW, "actor_arn": value, "access_key_id": value, "user_agent": value, "policy": value}


@pytest.mark.parametrize("engine", ["lake", "athena", "duckdb"])
@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payloads_stay_literals(engine: str, payload: str) -> None:
    store, dialect = compilers()[engine]
    benign, _ = skeleton(store.compile(INVESTIGATION, params("benign")), dialect)  # type: ignore[attr-defined]
    hostile, literals = skeleton(store.compile(INVESTIGATION, params(payload)), dialect)  # type: ignore[attr-defined]
    assert hostile == benign
    assert literals.count(payload) >= 4  # each parameter arrived whole, as one literal


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters=[
    chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127]]), max_size=40))
def test_any_text_stays_a_literal(value: str) -> None:
    for store, dialect in compilers().values():
        benign, _ = skeleton(store.compile(INVESTIGATION, params("benign")), dialect)  # type: ignore[attr-defined]
        hostile, literals = skeleton(store.compile(INVESTIGATION, params(value)), dialect)  # type: ignore[attr-defined]
        assert hostile == benign and value in literals


# -- trailhound compile ---------------------------------------------------------------------------------
PACK = load_detections()
DETECTION = PACK[0]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAILHOUND_STORE", raising=False)
    monkeypatch.delenv("TRAILHOUND_CONFIG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["compile", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_compile_each_engine(capsys: pytest.CaptureFixture[str]) -> None:
    window = ["--since", "2026-11-27T09:00:00Z", "--until", "2026-11-27T10:00:00Z"]
    status, lake, _ = run(capsys, DETECTION.id, "--engine", "lake", "--store", f"lake:{EDS}", *window)
    assert status == 0 and f"FROM {EDS}" in lake and "TIMESTAMP '2026-11-27 09:00:00.000'" in lake
    det = load_detections(ids=[DETECTION.id])[0]  # as the CLI just read it
    assert lake.strip() == LakeStore(EDS).compile(det.sql, {**WINDOW, **_threshold(det)}).strip()
    status, ath, _ = run(capsys, DETECTION.id, "--store", "athena:primary/security.cloudtrail_logs_pp", *window)
    assert status == 0 and "\"timestamp\" BETWEEN '2026/11/27' AND '2026/11/28'" in ath
    status, duck, _ = run(capsys, DETECTION.id, *window)
    assert status == 0 and "FROM events" in duck


def _threshold(det: Detection) -> dict[str, int]:
    t = det.header.threshold
    return {"THRESHOLD": t.min} if t else {}


def test_compile_default_window_is_the_lookback_ending_now(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, DETECTION.id, "--engine", "lake", "--store", f"lake:{EDS}")
    assert status == 0
    times = [dt.datetime.fromisoformat(t) for t in re.findall(r"TIMESTAMP '([^']+)'", out)[:2]]
    assert times[1] - times[0] == DETECTION.header.lookback_delta
    assert abs(times[1].replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_compile_sql_file_with_params(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "q.sql")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"SELECT eventName FROM $EDS_ID {WHERE} AND userIdentity.arn = $ACTOR_ARN")
    status, out, _ = run(capsys, path, "--engine", "athena", "--store", "athena:wg/db.t", "--since", "2h",
                         "--param", "ACTOR_ARN=x'--")
    assert status == 0 and "userIdentity.arn = 'x''--'" in out


@pytest.mark.parametrize("argv,message", [
    (["--engine", "lake"], "--engine lake needs --store lake:"),
    (["--engine", "athena", "--store", "lake:abc123"], "--engine athena needs --store athena:"),
    (["--engine", "duckdb", "--store", "athena:wg/db.t"], "does not match"),
    (["--since", "1h", "--until", "2h"], "is empty"),
])
def test_compile_bad_input(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    status, out, err = run(capsys, DETECTION.id, *argv)
    assert status == 2 and out == "" and message in err and "Traceback" not in err


def test_compile_unknown_detection(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "no_such_detection")
    assert status == 2 and "no_such_detection" in err


def test_compile_every_detection_for_athena() -> None:
    """Every detection of the pack has an Athena form (no Lake-only construct)."""
    store = AthenaStore("primary", "security", "cloudtrail_logs_pp")
    for det in PACK:
        params = {**WINDOW, **({"THRESHOLD": det.header.threshold.min} if det.header.threshold else {})}
        sql = store.compile(det.sql, params)
        assert "\"timestamp\" BETWEEN" in sql or "\"timestamp\" >=" in sql, det.id
