"""Values reach SQL text only through ``sql_literal`` / ``bind``: they can never change a query."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp
from trailhound.errors import UnsafeValueError, UserInputError
from trailhound.sql.params import bind, placeholders, sql_identifier, sql_literal, table_identifier
from trailhound.sql.translate import parse_trino
from trailhound.store.local import LocalStore

FORBIDDEN = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f", "\ud800", "\udfff"]

HOSTILE = [
    "'", "''", "x' OR '1'='1", "'; DROP TABLE events; --", "') OR 1=1 --", "a -- comment",
    "a /* c */ b", "*/ SELECT 1 /*", "/*", "--", "$EDS_ID", "$ACTOR_ARN", "$START_TIME", "\\",
    "\\'", "\\' OR 1=1 --", "'||(SELECT count(*) FROM events)||'", '"', 'x" OR "1"="1', "U&'\\0041'",
    "é ü 中文 🙂", "multi\nline\r\nwith\ttab", "\u2028\u2029", "ʼ OR 1=1", "＇ OR 1=1", "%_[]",
    "arn:aws:iam::123456789012:role/$(whoami)", "${jndi:ldap://x}", "E'\\x27'",
]

TEMPLATES = [
    "SELECT eventID FROM $EDS_ID WHERE userIdentity.arn = $ACTOR_ARN AND eventTime >= $START_TIME",
    "SELECT eventID FROM $EDS_ID -- the actor: $ACTOR_ARN\nWHERE sourceIPAddress IN ($ACTOR_ARN, 'x')",
    "SELECT element_at(requestParameters, $ACTOR_ARN) /* $ACTOR_ARN */ AS v FROM $EDS_ID",
    "SELECT '$ACTOR_ARN' AS literal, \"$ACTOR_ARN\" AS quoted, $ACTOR_ARN AS v FROM $EDS_ID",
    "SELECT eventID FROM $EDS_ID WHERE regexp_like(userAgent, $ACTOR_ARN) OR userAgent LIKE $ACTOR_ARN",
    "SELECT eventID FROM $EDS_ID WHERE eventName IN (SELECT n FROM UNNEST($NAMES) AS t(n))",
]

HARMLESS = "harmless"


def _with_value(tree: exp.Expr, value: str) -> tuple[exp.Expr, int]:
    """``tree`` with every HARMLESS string literal (the filled slots) set to ``value``, and their count."""
    count = 0
    for lit in list(tree.find_all(exp.Literal)):
        if lit.is_string and lit.this == HARMLESS:
            lit.replace(exp.Literal.string(value))
            count += 1
    return tree, count


def _params(value: Any) -> dict[str, Any]:
    return {"actor_arn": value, "start_time": dt.datetime(2024, 1, 1), "names": [value, "GetObject"]}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_never_change_the_query_structure(template: str, value: str) -> None:
    hostile = parse_trino(bind(template, _params(value), table="events"))
    harmless = parse_trino(bind(template, _params(HARMLESS), table="events"))
    expected, slots = _with_value(harmless, value)
    assert slots > 0
    # The hostile query is the harmless one with the value in the same literal slots: nothing else.
    assert hostile == expected


@pytest.fixture(scope="module")
def store() -> Iterator[LocalStore]:
    s = LocalStore(":memory:")
    yield s
    s.close()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_run_as_plain_data(store: LocalStore, value: str) -> None:
    result = store.query("SELECT $V AS v, count(*) AS n FROM $EDS_ID WHERE eventName = $V", {"v": value})
    assert result.rows == [{"v": value, "n": 0}]
    assert store.count() == 0  # and the table is still there


@pytest.mark.parametrize("char", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
def test_control_characters_and_lone_surrogates_are_rejected(char: str) -> None:
    with pytest.raises(UnsafeValueError, match=f"U\\+{ord(char):04X}"):
        sql_literal(f"arn{char}x")
    with pytest.raises(UnsafeValueError):
        bind("SELECT $V", {"v": ["ok", f"bad{char}"]})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), decimal.Decimal("NaN"), 2**63,
                                   -(2**63) - 1, {"a": 1}, b"bytes", object()])
def test_values_without_a_safe_literal_are_rejected(value: Any) -> None:
    with pytest.raises(UnsafeValueError):
        sql_literal(value)


@pytest.mark.parametrize(("value", "literal"), [
    (None, "NULL"), (True, "TRUE"), (False, "FALSE"), (42, "42"), (-7, "-7"), (2**63 - 1, "9223372036854775807"),
    (1.5, "1.5E0"), (1e-05, "1e-05"), (decimal.Decimal("1.50"), "1.50"), ("it's", "'it''s'"), ("a\\b", "'a\\b'"),
    (dt.datetime(2024, 7, 30, 21, 31, 21, 123456), "TIMESTAMP '2024-07-30 21:31:21.123'"),
    (dt.datetime(2024, 7, 30, 23, 31, 21, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     "TIMESTAMP '2024-07-30 21:31:21.000'"),
    (dt.date(2024, 7, 30), "DATE '2024-07-30'"),
    (["a", 1, None], "ARRAY['a', 1, NULL]"),
])
def test_literals(value: Any, literal: str) -> None:
    assert sql_literal(value) == literal


def test_literals_mean_the_same_value_on_the_local_engine(store: LocalStore) -> None:
    values = {"s": "it's \\ $EDS_ID", "i": -7, "f": 0.1, "d": decimal.Decimal("2.50"), "b": True,
              "t": dt.datetime(2024, 7, 30, 21, 31, 21, 500000, tzinfo=dt.UTC), "day": dt.date(2024, 7, 30),
              "l": ["a", "b"]}
    sql = "SELECT " + ", ".join(f"${k.upper()} AS {k}" for k in values)
    row = store.query(sql, values).rows[0]
    assert row["s"] == values["s"] and row["i"] == -7 and row["f"] == 0.1 and row["b"] is True
    assert row["d"] == decimal.Decimal("2.50") and row["l"] == ["a", "b"] and row["day"] == dt.date(2024, 7, 30)
    assert row["t"] == dt.datetime(2024, 7, 30, 21, 31, 21, 500000)


def test_table_identifier() -> None:
    assert table_identifier("events") == "events"
    assert table_identifier("EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE") == '"EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE"'
    assert table_identifier("db.cloudtrail_logs") == "db.cloudtrail_logs"
    for bad in ["", "events; DROP TABLE x", 'a"b', "a b", "a.b.c.d", "1abc", "events--"]:
        if bad == "events--":
            assert table_identifier(bad) == '"events--"'  # a quoted identifier, not a comment
            continue
        with pytest.raises(UserInputError):
            table_identifier(bad)


def test_sql_identifier_quotes_any_name_as_one_identifier() -> None:
    import duckdb

    con = duckdb.connect()
    for name in ("store", "my-db", 'we"ird', "a.b", "1st"):
        assert con.execute(f"SELECT 1 AS {sql_identifier(name)}").description[0][0] == name


def test_placeholders_skip_literals_identifiers_and_comments() -> None:
    sql = """SELECT '$NOT_A' AS "$NOT_B", json_extract_scalar(x, '$.a') -- $NOT_C
             /* $NOT_D */ FROM $EDS_ID WHERE a = $ACTOR_ARN AND b = 'it''s $NOT_E' AND c = $SOURCE_IP"""
    assert placeholders(sql) == {"EDS_ID", "ACTOR_ARN", "SOURCE_IP"}


def test_bind_fills_case_insensitively_and_ignores_unused_parameters() -> None:
    sql = bind("SELECT * FROM $EDS_ID WHERE a = $ACTOR_ARN", {"actor_arn": "x", "unused": 1}, table="events")
    assert sql == "SELECT * FROM events WHERE a = 'x'"


def test_bind_requires_every_placeholder_and_a_table() -> None:
    with pytest.raises(UserInputError, match=r"missing SQL parameter\(s\): \$ACTOR_ARN, \$SOURCE_IP"):
        bind("SELECT $ACTOR_ARN, $SOURCE_IP", {})
    with pytest.raises(UserInputError, match="no table"):
        bind("SELECT * FROM $EDS_ID", {})


def test_substituted_values_are_not_scanned_again() -> None:
    sql = bind("SELECT $A, $B", {"a": "$B", "b": "$A"})
    assert sql == "SELECT '$B', '$A'"


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="".join(FORBIDDEN)), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_TEXT)
def test_sql_literal_round_trips_any_text(store: LocalStore, value: str) -> None:
    assert store.execute(f"SELECT {sql_literal(value)} AS v").rows == [{"v": value}]
    assert store.query("SELECT $V AS v", {"v": value}).rows == [{"v": value}]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                       st.integers(min_value=-(2**63), max_value=2**63 - 1),
                       st.lists(_TEXT, max_size=4)))
def test_sql_literal_round_trips_numbers_and_lists(store: LocalStore, value: Any) -> None:
    got = store.query("SELECT $V AS v", {"v": value}).rows[0]["v"]
    assert got == value
