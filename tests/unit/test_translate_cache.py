"""``compile_cached`` gives exactly what ``to_duckdb(bind(...))`` gives, and the same errors,
while translating each SQL text once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trailhound.config import Settings
from trailhound.detections.model import load_detections
from trailhound.detections.runner import query_params, tuning_for
from trailhound.errors import SqlError, UnsafeValueError, UnsupportedSqlError, UserInputError
from trailhound.sql import translate
from trailhound.sql.params import bind
from trailhound.sql.translate import cache_info, compile_cached, to_duckdb

UTC = dt.UTC
TABLE = "events"
WINDOWS = [
    (dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 4, 11, 20, tzinfo=UTC)),
    # naive (taken as UTC), sub-millisecond parts, a leap day
    (dt.datetime(2024, 2, 29, 23, 59, 59, 999999), dt.datetime(2024, 3, 1, 0, 0, 0, 1500)),
    # an aware non-UTC time is converted
    (dt.datetime(2025, 6, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     dt.datetime(2025, 6, 1, 3, 0, tzinfo=UTC)),
]


def uncached(sql: str, params: dict[str, Any]) -> str:
    return to_duckdb(bind(sql, params, table=TABLE))


def other_values(params: dict[str, Any]) -> dict[str, Any]:
    """Values of the same kinds, different from ``params``'."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, dt.datetime):
            out[k] = v + dt.timedelta(days=1, milliseconds=7)
        elif isinstance(v, int) and not isinstance(v, bool):
            out[k] = v + 1
        elif isinstance(v, str):
            out[k] = v + "~"
        else:
            out[k] = v
    return out


def cached(sql: str, params: dict[str, Any]) -> str:
    """compile_cached once its text has come with other values: from the template when it has one."""
    compile_cached(sql, params, table=TABLE)  # first: translated as is
    compile_cached(sql, other_values(params), table=TABLE)  # other values: the template is built
    return compile_cached(sql, params, table=TABLE)


@pytest.mark.parametrize("window", WINDOWS, ids=["aware", "naive-leap", "offset"])
def test_every_detection_compiles_to_the_uncached_text(window: tuple[dt.datetime, dt.datetime]) -> None:
    settings_ = Settings()
    for detection in load_detections():
        params = query_params(detection, *window, tuning_for(detection, settings_))
        assert cached(detection.sql, params) == uncached(detection.sql, params), detection.id


def test_every_detection_template_is_cacheable() -> None:
    """No detection's translation depends on its window or threshold values (else the pack
    would pay a translation per run)."""
    start, end = WINDOWS[0]
    for detection in load_detections():
        params = {k.upper(): v for k, v in query_params(detection, start, end).items()}
        slots = tuple((n, str(translate._kind(params[n]))) for n in translate._names(detection.sql))
        assert translate._template(detection.sql, TABLE, slots) is not None, detection.id


def test_the_template_is_built_when_the_values_change_and_reused() -> None:
    sql = "SELECT eventID FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME AND eventName = $NAME"
    first = {"START_TIME": WINDOWS[0][0], "END_TIME": WINDOWS[0][1], "name": "GetObject"}
    second = {"START_TIME": WINDOWS[1][0], "END_TIME": WINDOWS[1][1], "name": "it's"}
    before = cache_info()
    assert compile_cached(sql, first, table=TABLE) == uncached(sql, first)
    assert compile_cached(sql, first, table=TABLE) == uncached(sql, first)
    assert cache_info() == before  # the same values again: no template
    assert compile_cached(sql, second, table=TABLE) == uncached(sql, second)
    assert cache_info().misses == before.misses + 1  # other values: the template is built
    hits = cache_info().hits
    out = compile_cached(sql, first, table=TABLE)
    assert out == uncached(sql, first)
    out = compile_cached(sql, second, table=TABLE)
    assert cache_info().hits == hits + 2
    assert out == uncached(sql, second)
    assert "'it''s'" in out and "2024-02-29 23:59:59.999" in out


@pytest.mark.parametrize("value", [
    "plain", "", "it's", "''", "a\\b", "\\'", "tab\there", "new\nline", "$START_TIME", "$EDS_ID",
    "-- comment", "/* open", "x' OR '1'='1", "日本語", "1900000001", "2999-01-01 12:34:00.789",
])
def test_string_values_are_substituted_as_their_literal(value: str) -> None:
    sql = ("SELECT eventID FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME "
           "AND (userIdentity.arn = $ARN OR sourceIPAddress = $ARN) AND eventName <> $OTHER")
    params = {"START_TIME": WINDOWS[0][0], "END_TIME": WINDOWS[0][1], "ARN": value, "OTHER": "x"}
    assert cached(sql, params) == uncached(sql, params)


def test_a_value_that_spells_another_slots_sentinel_is_not_substituted_again() -> None:
    sql = "SELECT eventID FROM $EDS_ID WHERE eventName = $A AND eventSource = $B"
    sentinel_b = translate._sentinel("str", 1, 0)  # slots are sorted by name: A is 0, B is 1
    params = {"A": sentinel_b, "B": "s3.amazonaws.com"}
    out = cached(sql, params)
    assert out == uncached(sql, params)
    assert f"eventName = '{sentinel_b}'" in out


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
       st.integers(min_value=0, max_value=2**31 - 1))
def test_any_text_and_count_give_the_uncached_text(text: str, n: int) -> None:
    sql = ("SELECT count(*) AS n FROM $EDS_ID WHERE eventName = $NAME GROUP BY userIdentity.arn "
           "HAVING count(*) >= $THRESHOLD")
    params = {"NAME": text, "THRESHOLD": n}
    assert cached(sql, params) == uncached(sql, params)


@pytest.mark.parametrize(("sql", "values"), [
    # typeof of a literal is folded to varchar(<its length>): depends on the value
    ("SELECT typeof($S) AS t FROM $EDS_ID", [{"S": "ab"}, {"S": "abcdef"}]),
    # a constant array subscript is shifted by one at translation
    ("SELECT ARRAY['a', 'b', 'c'][$I] AS x FROM $EDS_ID", [{"I": 1}, {"I": 3}]),
    # date_add's unit count inside an interval
    ("SELECT date_add('minute', $N, eventTime) AS t FROM $EDS_ID", [{"N": 5}, {"N": 90}]),
])
def test_value_dependent_translations_match_the_uncached_text(sql: str, values: list[dict[str, Any]]) -> None:
    for params in values:
        assert cached(sql, params) == uncached(sql, params)


@pytest.mark.parametrize("params", [
    {"X": -3}, {"X": 2**40}, {"X": 1.5}, {"X": None}, {"X": True}, {"X": dt.date(2026, 1, 1)}, {"X": ["a", "b"]},
])
def test_other_kinds_take_the_uncached_path(params: dict[str, Any]) -> None:
    sql = "SELECT eventID, $X AS x FROM $EDS_ID"
    assert cached(sql, params) == uncached(sql, params)


def test_placeholders_in_literals_and_comments_are_left_alone() -> None:
    sql = "SELECT '$NAME' AS a, eventID /* $NAME */ FROM $EDS_ID -- $NAME\nWHERE eventName = $NAME"
    params = {"NAME": "GetObject"}
    out = cached(sql, params)
    assert out == uncached(sql, params)
    assert "'$NAME'" in out


def test_no_placeholders_and_unused_parameters() -> None:
    sql = "SELECT count(*) AS n FROM $EDS_ID"
    assert cached(sql, {"UNUSED": object()}) == uncached(sql, {})


def test_errors_are_the_uncached_errors() -> None:
    sql = "SELECT eventID FROM $EDS_ID WHERE eventName = $NAME AND eventTime >= $START_TIME"
    cached(sql, {"START_TIME": WINDOWS[0][0], "NAME": "a"})  # the template exists: errors from its path
    with pytest.raises(UserInputError, match=r"missing SQL parameter\(s\): \$NAME"):
        compile_cached(sql, {"START_TIME": WINDOWS[0][0]}, table=TABLE)
    with pytest.raises(UnsafeValueError, match="U\\+0001"):
        compile_cached(sql, {"START_TIME": WINDOWS[0][0], "NAME": "a\x01"}, table=TABLE)
    with pytest.raises(UserInputError, match="no table"):
        compile_cached(sql, {"START_TIME": WINDOWS[0][0], "NAME": "a"})
    broken = "SELECT eventID FROM $EDS_ID WHERE eventName = $NAME AND ("
    unsupported = "SELECT eventID FROM $EDS_ID WHERE eventName = $NAME\nAND geometry_from_text(eventName) IS NULL"
    for text, error in ((broken, SqlError), (unsupported, UnsupportedSqlError)):
        with pytest.raises(error) as plain:
            uncached(text, {"NAME": "a"})
        for _ in range(3):  # first call, template attempt, after it
            with pytest.raises(error) as from_cache:
                compile_cached(text, {"NAME": "a"}, table=TABLE)
            assert type(from_cache.value) is type(plain.value)
            assert str(from_cache.value) == str(plain.value)


# --- IN lists as semi joins (a speed rewrite of to_duckdb) ------------------------------------

IN_TABLE = {"events": [("eventName", "VARCHAR"), ("eventSource", "VARCHAR"), ("errorCode", "VARCHAR")]}
IN_ROWS = [("GetObject", "s3", None), ("PutObject", "s3", "AccessDenied"), ("DeleteRule", "events", None),
           (None, "s3", None), ("PutRule", None, "Throttling"), ("getobject", "s3", None)]


@pytest.fixture(scope="module")
def in_db() -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE events (eventName VARCHAR, eventSource VARCHAR, errorCode VARCHAR)")
    con.executemany("INSERT INTO events VALUES (?, ?, ?)", IN_ROWS)
    yield con
    con.close()


@pytest.mark.parametrize("where", [
    "eventName IN ('GetObject', 'PutObject')",
    "eventSource IN ('s3', 'events') AND eventName IN ('GetObject', 'DeleteRule', 'PutRule')",
    "(eventName IN ('GetObject', 'PutRule')) AND errorCode IS NULL",
    "eventName IN ('GetObject', 'PutObject') OR eventSource = 'events'",  # inside OR: left as a list
    "NOT eventName IN ('GetObject', 'PutObject')",  # negated: left as a list (NULL rows)
    "eventName NOT IN ('GetObject', 'PutObject')",
    "eventName IN ('GetObject', NULL)",  # not all string literals: left as a list
    "errorCode IN ('AccessDenied', 'Throttling') AND eventName IN ('PutObject', 'PutRule')",
])
def test_in_lists_filter_the_same_rows(in_db: Any, where: str) -> None:
    sql = f"SELECT eventName, eventSource, errorCode FROM events WHERE {where}"
    translated = to_duckdb(sql, tables=IN_TABLE)
    expected = sorted(in_db.execute(sql).fetchall(), key=repr)
    assert sorted(in_db.execute(translated).fetchall(), key=repr) == expected


def test_only_top_level_lists_over_a_table_become_semi_joins() -> None:
    out = to_duckdb(
        "WITH c AS (SELECT eventID, eventName FROM events WHERE eventSource IN ('a', 'b') AND "
        "(eventName IN ('x', 'y') OR errorCode IS NULL)) "
        "SELECT c.eventID FROM c JOIN events e ON e.eventID = c.eventID "
        "WHERE c.eventName IN ('x', 'z') AND e.awsRegion NOT IN ('r1', 'r2')")
    assert out.count("(VALUES") == 1
    assert "eventSource IN (SELECT v FROM (VALUES ('a'), ('b')) AS _in_list(v))" in out
    assert "eventName IN ('x', 'y') OR" in out  # under OR
    assert "c.eventName IN ('x', 'z')" in out  # over a CTE and a join
    assert "NOT e.awsRegion IN ('r1', 'r2')" in out
    single = to_duckdb("SELECT eventID FROM events WHERE eventName IN ('x')")
    assert "VALUES" not in single
