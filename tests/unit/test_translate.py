"""Lake-dialect (Trino) SQL executed on the local DuckDB store returns what Trino returns.

Every construct is *executed* through ``LocalStore.query`` (bind → translate → DuckDB), never
only parsed. Expected values are Trino's: where the Trino documentation (trino.io/docs,
functions/*.md) gives an example, the example is used as is and marked ``# docs``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from trailhound.errors import SqlError, UnsupportedSqlError
from trailhound.sql.gaps import joda_to_strftime, mysql_to_strftime, trino_json_path
from trailhound.sql.translate import to_duckdb
from trailhound.store.local import LocalStore

UTC = dt.UTC
ROLE = "arn:aws:iam::111122223333:role/ops"
SESSION = "arn:aws:sts::111122223333:assumed-role/ops/alice"
USER = "arn:aws:iam::111122223333:user/bob"

# Five events; times in UTC: e1 21:31:21, e5 21:35:00, e2 21:41:21, e3 23:59:59, e4 00:05 (+1 day).
RECORDS: list[dict[str, Any]] = [
    {
        "eventVersion": "1.09", "eventID": "e1", "eventTime": "2024-07-30T21:31:21Z",
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
        "sourceIPAddress": "10.1.2.3", "userAgent": "aws-cli/2.15.0 Python/3.11",
        "userIdentity": {
            "type": "AssumedRole", "arn": SESSION, "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE1",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": ROLE, "userName": "ops"},
                "attributes": {"creationDate": "2024-07-30T21:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "requestParameters": {"bucketName": "b1", "key": "k1", "n": 3, "flag": False,
                              "obj": {"a": 1, "b": [1, 2]}, "arr": [1, "x", None]},
        "resources": [
            {"ARN": "arn:aws:s3:::b1", "type": "AWS::S3::Bucket", "accountId": "111122223333"},
            {"ARN": "arn:aws:s3:::b1/k1", "type": "AWS::S3::Object"},
        ],
        "readOnly": True, "managementEvent": False, "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    },
    {
        "eventVersion": "1.09", "eventID": "e2", "eventTime": "2024-07-30T21:41:21Z",
        "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "awsRegion": "us-east-1",
        "sourceIPAddress": "AWS Internal", "errorCode": "AccessDenied",
        "userIdentity": {"type": "AssumedRole", "arn": SESSION, "accountId": "111122223333"},
        "requestParameters": None, "resources": None, "readOnly": False,
    },
    {
        "eventVersion": "1.09", "eventID": "e3", "eventTime": "2024-07-30T23:59:59Z",
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userIdentity": {"type": "IAMUser", "arn": USER, "accountId": "111122223333", "userName": "bob"},
        "additionalEventData": {"MFAUsed": "No",
                                "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs"},
        "responseElements": {"ConsoleLogin": "Success"}, "readOnly": False,
    },
    {
        "eventVersion": "1.09", "eventID": "e4", "eventTime": "2024-07-31T00:05:00Z",
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "awsRegion": "eu-west-1",
        "sourceIPAddress": "2001:db8::1",
        "userIdentity": {"type": "IAMUser", "arn": USER, "accountId": "111122223333"},
        "requestParameters": {"roleArn": ROLE, "durationSeconds": 3600}, "resources": [],
    },
    {
        "eventVersion": "1.09", "eventID": "e5", "eventTime": "2024-07-30T21:35:00Z",
        "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
        "sourceIPAddress": "10.200.0.1", "errorCode": "AccessDenied",
        "userIdentity": {"type": "AssumedRole", "arn": SESSION, "accountId": "111122223333"},
    },
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStore]:
    path: Path = tmp_path_factory.mktemp("trail") / "delivery.json"
    path.write_text(json.dumps({"Records": RECORDS}))
    s = LocalStore(":memory:")
    summary = s.ingest([path])
    assert summary.added == len(RECORDS)
    yield s
    s.close()


def scalar(store: LocalStore, expr: str) -> Any:
    return store.query(f"SELECT {expr} AS v").rows[0]["v"]


def on_event(store: LocalStore, expr: str, event_id: str = "e1") -> Any:
    result = store.query(f"SELECT {expr} AS v FROM $EDS_ID WHERE eventID = $EVENT", {"event": event_id})
    assert len(result) == 1
    return result.rows[0]["v"]


def rows(store: LocalStore, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    result = store.query(sql, params)
    return [tuple(r[c] for c in result.columns) for r in result.rows]


# --------------------------------------------------------------------------------------------
# Scalar functions on literals (no table).
# --------------------------------------------------------------------------------------------
SCALARS: list[tuple[str, Any]] = [
    # json_extract_scalar: the unquoted text of a scalar, NULL for objects, arrays, JSON null and bad JSON.
    ("""json_extract_scalar('[1, 2, 3]', '$[2]')""", "3"),  # docs
    ("""json_extract_scalar('{"a": {"b": 1}}', '$.a')""", None),
    ("""json_extract_scalar('{"a": [1]}', '$.a')""", None),
    ("""json_extract_scalar('{"a": "x"}', '$.a')""", "x"),
    ("""json_extract_scalar('{"a": "x\\"y"}', '$.a')""", 'x"y'),
    ("""json_extract_scalar('{"a": null}', '$.a')""", None),
    ("""json_extract_scalar('{"a": true}', '$.a')""", "true"),
    ("""json_extract_scalar('{"a": 42}', '$.a')""", "42"),
    ("""json_extract_scalar('{"a": 1}', '$.b')""", None),
    ("""json_extract_scalar('not json', '$.a')""", None),
    ("""json_extract_scalar('{"a b": {"c": "d"}}', '$["a b"].c')""", "d"),
    ("""json_extract_scalar('{"store": {"book": [{"author": "Rees"}]}}', '$.store.book[0].author')""", "Rees"),
    ("""json_extract_scalar('{"a.b": "dotted"}', '$["a.b"]')""", "dotted"),
    # json_extract returns JSON (its text here).
    ("""json_extract('{"a": {"b": 1}}', '$.a')""", '{"b":1}'),
    ("""json_extract('{"a": [1, 2]}', '$.a')""", "[1,2]"),
    ("""json_extract('{"a": "x"}', '$.a')""", '"x"'),
    ("""json_extract('{"a": null}', '$.a')""", "null"),
    ("""json_extract('{"a": 1}', '$.b')""", None),
    ("""json_extract('not json', '$.a')""", None),
    # json_size: members of an object/array, 0 for a scalar.
    ("""json_size('{"x": {"a": 1, "b": 2}}', '$.x')""", 2),  # docs
    ("""json_size('{"x": [1, 2, 3]}', '$.x')""", 3),  # docs
    ("""json_size('{"x": {"a": 1, "b": 2}}', '$.x.a')""", 0),  # docs
    ("""json_size('{"x": 1}', '$.y')""", None),
    # json_array_get: 0-based, negative from the end, NULL out of range; strings come back bare.
    ("""json_array_get('["a", [3, 9], "c"]', 0)""", "a"),  # docs
    ("""json_array_get('["a", [3, 9], "c"]', 1)""", "[3,9]"),  # docs
    ("""json_array_get('["c", [3, 9], "a"]', -1)""", "a"),  # docs
    ("""json_array_get('["c", [3, 9], "a"]', -2)""", "[3,9]"),  # docs
    ("""json_array_get('[]', 0)""", None),  # docs
    ("""json_array_get('["a", "b", "c"]', 10)""", None),  # docs
    ("""json_array_get('["c", "b", "a"]', -10)""", None),  # docs
    ("""json_array_get('[1, null]', 1)""", None),
    ("""json_array_get('{"a": 1}', 0)""", None),
    # json_array_contains: typed match, NULL when not an array.
    ("""json_array_contains('[1, 2, 3]', 2)""", True),  # docs
    ("""json_array_contains('["a", "b"]', 'b')""", True),
    ("""json_array_contains('["1"]', 1)""", False),
    ("""json_array_contains('[1, 2]', 'x')""", False),
    ("""json_array_contains('[true]', true)""", True),
    ("""json_array_contains('[1.5]', 1.5E0)""", True),
    ("""json_array_contains('{"a": 1}', 1)""", None),
    ("""json_array_length('[1, 2, 3]')""", 3),  # docs
    ("""json_array_length('{"a": 1}')""", None),
    # json_format / json_parse / casts.
    ("""json_format(JSON '[1, 2, 3]')""", "[1,2,3]"),  # docs
    ("""json_format(JSON '"a"')""", '"a"'),  # docs
    ("""json_format(JSON '{"a": 1, "b": 2}')""", '{"a":1,"b":2}'),  # docs
    ("""json_format(json_parse('[1, 2, 3]'))""", "[1,2,3]"),
    ("""json_format(json_parse('"abc"'))""", '"abc"'),
    ("""json_extract_scalar(json_parse('{"a": {"b": "c"}}'), '$.a.b')""", "c"),
    ("""CAST('abc' AS JSON)""", '"abc"'),  # docs
    ("""CAST(MAP(ARRAY['k1', 'k2'], ARRAY[1, 23]) AS JSON)""", '{"k1":1,"k2":23}'),  # docs
    ("""CAST(ARRAY[1, NULL, 456] AS JSON)""", "[1,null,456]"),  # docs
    ("""CAST(JSON '"abc"' AS VARCHAR)""", "abc"),  # docs
    ("""CAST(JSON '42' AS VARCHAR)""", "42"),  # docs
    ("""CAST(JSON 'true' AS VARCHAR)""", "true"),  # docs
    ("""CAST(JSON 'null' AS VARCHAR)""", None),  # docs
    ("""TRY_CAST(JSON '[1, 2]' AS VARCHAR)""", None),
    # Arrays and maps.
    ("cardinality(ARRAY[1, 2, 3])", 3),
    ("cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))", 2),
    ("element_at(ARRAY[1, 2, 3], 1)", 1),
    ("element_at(ARRAY[1, 2, 3], -1)", 3),
    ("element_at(ARRAY[1, 2, 3], 5)", None),
    ("element_at(MAP(ARRAY['a'], ARRAY['x']), 'a')", "x"),
    ("element_at(MAP(ARRAY['a'], ARRAY['x']), 'b')", None),
    ("ARRAY[10, 20, 30][2]", 20),
    ("MAP(ARRAY['a'], ARRAY['x'])['a']", "x"),
    ("contains(ARRAY[1, 2], 2)", True),
    ("contains(ARRAY[1, 2], 3)", False),
    ("contains(ARRAY[1, NULL], 3)", None),
    ("contains(ARRAY['a', 'b'], 'b')", True),
    ("array_join(ARRAY['a', NULL, 'b'], ',')", "a,b"),
    ("array_join(ARRAY['a', NULL, 'b'], ',', 'N')", "a,N,b"),
    ("array_join(ARRAY[1, 2], '-')", "1-2"),
    ("array_distinct(ARRAY['b', 'a', 'b', NULL, NULL])", ["b", "a", None]),
    ("array_sort(ARRAY[3, NULL, 1])", [1, 3, None]),
    ("map_keys(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))", ["a", "b"]),
    ("map_values(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))", [1, 2]),
    ("split('a,b,,c', ',')", ["a", "b", "", "c"]),
    ("split_part('a,b', ',', 2)", "b"),
    ("split_part('a,b', ',', 3)", None),
    # Lambdas (x -> ...).
    ("any_match(ARRAY[1, 2], x -> x > 1)", True),
    ("any_match(ARRAY[1, 2], x -> x > 5)", False),
    ("any_match(CAST(ARRAY[] AS ARRAY(INTEGER)), x -> x > 1)", False),
    ("any_match(ARRAY[NULL, 1], x -> x > 1)", None),
    ("any_match(ARRAY[NULL, 2], x -> x > 1)", True),
    ("any_match(CAST(NULL AS ARRAY(INTEGER)), x -> x > 1)", None),
    ("all_match(ARRAY[2, 3], x -> x > 1)", True),
    ("all_match(CAST(ARRAY[] AS ARRAY(INTEGER)), x -> x > 1)", True),
    ("all_match(ARRAY[1, NULL], x -> x > 1)", False),
    ("all_match(ARRAY[2, NULL], x -> x > 1)", None),
    ("none_match(ARRAY[1], x -> x > 1)", True),
    ("none_match(ARRAY[2], x -> x > 1)", False),
    ("none_match(ARRAY[1, NULL], x -> x > 1)", None),
    ("transform(ARRAY[1, 2], x -> x * 2)", [2, 4]),
    ("filter(ARRAY[1, NULL, 3], x -> x > 1)", [3]),
    # Dates and times (the session zone is UTC, as in CloudTrail Lake).
    ("format_datetime(TIMESTAMP '2024-03-05 04:07:09.123', 'yyyy-MM-dd HH:mm:ss.SSS')", "2024-03-05 04:07:09.123"),
    ("format_datetime(TIMESTAMP '2024-03-05 04:07:09', 'EEE, d MMM yyyy')", "Tue, 5 Mar 2024"),
    ("format_datetime(TIMESTAMP '2024-03-05 16:07:09', 'EEEE MMMM h:mm a')", "Tuesday March 4:07 PM"),
    ("format_datetime(TIMESTAMP '2024-03-05 04:07:09', 'yyyy-MM-dd''T''HH:mm:ss''Z''')", "2024-03-05T04:07:09Z"),
    ("format_datetime(TIMESTAMP '2024-03-05 04:07:09', 'yy/M/d DDD ''o''''clock'' ZZ')", "24/3/5 065 o'clock +00:00"),
    ("date_format(TIMESTAMP '2022-10-20 05:10:00', '%m-%d-%Y %H')", "10-20-2022 05"),  # docs
    ("date_format(TIMESTAMP '2024-03-05 16:07:09.123', '%c/%e %k:%i:%s %p %W %M %j %y %T %r %f %%')",
     "3/5 16:07:09 PM Tuesday March 065 24 16:07:09 04:07:09 PM 123000 %"),
    ("date_format(TIMESTAMP '2024-03-05 04:07:09', '%a %b %h %l %I %H')", "Tue Mar 04 4 04 04"),
    ("from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00')",
     dt.datetime(2020, 5, 11, 10, 15, 5, 55000, tzinfo=UTC)),  # docs (2020-05-11 11:15:05.055 +01:00)
    ("from_iso8601_timestamp('2020-05-11')", dt.datetime(2020, 5, 11, tzinfo=UTC)),  # docs, session zone UTC
    ("from_iso8601_timestamp('2020-05-11T11:15:05Z') = TIMESTAMP '2020-05-11 11:15:05'", True),
    ("from_iso8601_date('2020-05-11')", dt.date(2020, 5, 11)),  # docs
    ("to_iso8601(TIMESTAMP '2020-05-11 11:15:05.055')", "2020-05-11T11:15:05.055"),
    ("to_iso8601(from_iso8601_timestamp('2020-05-11T11:15:05.055Z'))", "2020-05-11T11:15:05.055Z"),
    ("to_iso8601(DATE '2020-05-11')", "2020-05-11"),
    ("date_add('second', 86, TIMESTAMP '2020-03-01 00:00:00')", dt.datetime(2020, 3, 1, 0, 1, 26)),  # docs
    ("date_add('hour', 9, TIMESTAMP '2020-03-01 00:00:00')", dt.datetime(2020, 3, 1, 9, 0)),  # docs
    ("date_add('day', -1, TIMESTAMP '2020-03-01 00:00:00 UTC')", dt.datetime(2020, 2, 29, tzinfo=UTC)),  # docs
    ("date_add('month', 1, TIMESTAMP '2012-10-31 01:00')", dt.datetime(2012, 11, 30, 1, 0)),  # docs (+ interval)
    ("date_add('minute', -90, TIMESTAMP '2024-01-01 00:00:00')", dt.datetime(2023, 12, 31, 22, 30)),
    ("date_add('millisecond', 5, TIMESTAMP '2024-01-01 00:00:00')", dt.datetime(2024, 1, 1, 0, 0, 0, 5000)),
    ("date_add('week', 1, TIMESTAMP '2024-01-01 00:00:00')", dt.datetime(2024, 1, 8)),
    ("date_add('quarter', 1, TIMESTAMP '2024-01-31 00:00:00')", dt.datetime(2024, 4, 30)),
    ("date_add('day', 1, DATE '2020-02-28')", dt.date(2020, 2, 29)),
    ("date_diff('second', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00')", 86400),  # docs
    ("date_diff('hour', TIMESTAMP '2020-03-01 00:00:00 UTC', TIMESTAMP '2020-03-02 00:00:00 UTC')", 24),  # docs
    ("date_diff('day', DATE '2020-03-01', DATE '2020-03-02')", 1),  # docs
    ("date_diff('millisecond', TIMESTAMP '2020-06-01 12:30:45.000', TIMESTAMP '2020-06-02 12:30:45.123')",
     86400123),  # docs
    ("date_diff('hour', TIMESTAMP '2024-01-01 10:59:00', TIMESTAMP '2024-01-01 11:01:00')", 0),
    ("date_diff('minute', TIMESTAMP '2024-01-01 11:01:00', TIMESTAMP '2024-01-01 10:59:30')", -1),
    ("date_trunc('day', TIMESTAMP '2022-10-20 05:10:00')", dt.datetime(2022, 10, 20)),  # docs
    ("date_trunc('month', TIMESTAMP '2022-10-20 05:10:00')", dt.datetime(2022, 10, 1)),  # docs
    ("date_trunc('year', TIMESTAMP '2022-10-20 05:10:00')", dt.datetime(2022, 1, 1)),  # docs
    ("date_trunc('week', TIMESTAMP '2001-08-22 03:04:05.321')", dt.datetime(2001, 8, 20)),  # docs
    ("date_trunc('quarter', TIMESTAMP '2001-08-22 03:04:05.321')", dt.datetime(2001, 7, 1)),  # docs
    ("date_trunc('minute', TIMESTAMP '2001-08-22 03:04:05.321')", dt.datetime(2001, 8, 22, 3, 4)),  # docs
    ("date_trunc('month', DATE '2022-10-20')", dt.date(2022, 10, 1)),
    ("to_unixtime(TIMESTAMP '2024-01-01 00:00:01.500')", 1704067201.5),
    ("from_unixtime(1700000000)", dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("to_unixtime(from_unixtime(1700000000))", 1700000000.0),
    ("day_of_week(DATE '2024-01-07')", 7),  # a Sunday: ISO 1 (Monday) .. 7 (Sunday)
    ("extract(DOW FROM DATE '2024-01-07')", 7),
    ("extract(YEAR FROM TIMESTAMP '2022-10-20 05:10:00')", 2022),  # docs
    ("hour(TIMESTAMP '2022-10-20 05:10:00')", 5),
    ("CAST(TIMESTAMP '2024-01-01 10:00:00.000' AS VARCHAR)", "2024-01-01 10:00:00.000"),
    ("date(TIMESTAMP '2024-01-01 23:59:59')", dt.date(2024, 1, 1)),
    # Strings and regular expressions.
    ("regexp_like('1a 2b 14m', '\\d+b')", True),  # docs
    ("regexp_like('abc', '^b')", False),
    ("regexp_extract('1a 2b 14m', '\\d+')", "1"),  # docs
    ("regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)", "a"),  # docs
    ("regexp_extract('abc', 'z')", None),
    ("regexp_extract_all('1a 2b 14m', '\\d+')", ["1", "2", "14"]),  # docs
    ("regexp_extract_all('1a 2b 14m', '(\\d+)([a-z]+)', 2)", ["a", "b", "m"]),  # docs
    ("regexp_replace('1a 2b 14m', '\\d+[ab] ')", "14m"),  # docs
    ("regexp_replace('1a 2b 14m', '(\\d+)([ab]) ', '3c$2 ')", "3ca 3cb 14m"),  # docs
    ("regexp_replace('a.b', '\\.', '\\$')", "a$b"),
    ("strpos('high', 'ig')", 2),
    ("strpos('high', 'x')", 0),
    ("position('ig' IN 'high')", 2),
    ("substr('hello', -3, 2)", "ll"),
    ("substr('hello', 0)", ""),
    ("substr('hello', 2)", "ello"),
    ("substring('hello', 2, 3)", "ell"),
    ("substr('hello', 10)", ""),
    ("trim('\t a \n')", "a"),
    ("ltrim('  a ')", "a "),
    ("rtrim(' a  ')", " a"),
    ("length('héllo')", 5),
    ("lower('AbC') || upper('d')", "abcD"),
    ("concat('a', 'b', 'c')", "abc"),
    ("concat('a', NULL)", None),
    ("replace('aXbX', 'X')", "ab"),
    ("replace('aXbX', 'X', 'Y')", "aYbY"),
    ("starts_with('arn:aws:iam', 'arn:')", True),
    ("url_extract_host('https://user@example.com:8443/path?q=1#f')", "example.com"),
    ("url_extract_host('http://localhost:8080/req_path')", "localhost"),
    ("url_extract_host('example.com/path')", None),
    ("typeof(1)", "integer"),
    ("typeof('abc')", "varchar(3)"),
    ("typeof(1.5E0)", "double"),
    ("typeof(true)", "boolean"),
    ("typeof(count(*))", "bigint"),
    # Numbers: Trino divides integers as integers (truncating toward zero).
    ("7 / 2", 3),
    ("-7 / 2", -3),
    ("7 % 3", 1),
    ("(2 + 5) / 2", 3),
    ("CAST(7 AS BIGINT) / 2", 3),
    ("7 / 2.0E0", 3.5),
    ("CAST(7 AS DOUBLE) / 2", 3.5),
    ("count(*) / 2", 0),
    ("round(2.5E0)", 3.0),
    ("round(-2.5E0)", -3.0),
    ("round(2.45, 1)", Decimal("2.5")),
    ("floor(7)", 7),
    ("floor(7.5E0)", 7.0),
    ("abs(-3)", 3),
    ("greatest(1, 5, 3)", 5),
    ("greatest(1, NULL)", None),
    ("least(4, 2)", 2),
    ("coalesce(NULL, 'x')", "x"),
    ("if(1 > 2, 'a', 'b')", "b"),
    ("nullif(1, 1)", None),
    ("try_cast('12' AS BIGINT)", 12),
    ("try_cast('x12' AS BIGINT)", None),
    ("CAST('12' AS INTEGER) + 1", 13),
    # IP addresses: contains(CIDR, IPADDRESS).
    ("contains('10.0.0.0/8', IPADDRESS '10.255.255.255')", True),  # docs
    ("contains('10.0.0.0/8', IPADDRESS '11.255.255.255')", False),  # docs
    ("contains('192.168.0.0/16', CAST('192.168.7.1' AS IPADDRESS))", True),
    ("contains('192.168.0.0/16', CAST('192.169.0.1' AS IPADDRESS))", False),
    ("contains('0.0.0.0/0', CAST('8.8.8.8' AS IPADDRESS))", True),
    ("contains('10.1.2.3/32', CAST('10.1.2.3' AS IPADDRESS))", True),
    ("contains('10.0.0.0/8', CAST('::ffff:10.1.2.3' AS IPADDRESS))", True),
    ("contains('10.0.0.0/8', CAST('2001:db8::1' AS IPADDRESS))", False),
    ("contains('10.0.0.0/8', TRY_CAST('AWS Internal' AS IPADDRESS))", None),
]


@pytest.mark.parametrize(("expr", "expected"), SCALARS, ids=[s[0][:60] for s in SCALARS])
def test_scalar_matches_trino(store: LocalStore, expr: str, expected: Any) -> None:
    got = scalar(store, expr)
    assert got == expected
    assert type(got) is type(expected) or expected is None or isinstance(expected, float)


# --------------------------------------------------------------------------------------------
# On the Lake-shaped table: struct fields, maps, arrays of rows, time windows, aggregates.
# --------------------------------------------------------------------------------------------
EVENT_VALUES: list[tuple[str, str, Any]] = [
    # Struct fields (userIdentity is a row; sessionContext nested in it).
    ("userIdentity.type", "e1", "AssumedRole"),
    ("userIdentity.sessionContext.sessionIssuer.arn", "e1", ROLE),
    ("useridentity.sessioncontext.sessionissuer.username", "e1", "ops"),
    ("userIdentity.sessionContext.attributes.creationDate", "e1", dt.datetime(2024, 7, 30, 21, 0)),
    ("userIdentity.sessionContext.attributes.mfaAuthenticated", "e1", "false"),
    ("userIdentity.sessionContext.sessionIssuer.arn", "e3", None),
    ("tlsDetails.tlsVersion", "e1", None),
    # Maps of strings: scalars as text, nested objects as JSON text; element_at is NULL-safe.
    ("element_at(requestParameters, 'bucketName')", "e1", "b1"),
    ("element_at(requestParameters, 'n')", "e1", "3"),
    ("element_at(requestParameters, 'flag')", "e1", "false"),
    ("element_at(requestParameters, 'obj')", "e1", '{"a":1,"b":[1,2]}'),
    ("element_at(requestParameters, 'missing')", "e1", None),
    ("element_at(requestParameters, 'bucketName')", "e2", None),
    ("element_at(additionalEventData, 'MFAUsed')", "e3", "No"),
    ("element_at(responseElements, 'ConsoleLogin')", "e3", "Success"),
    ("CAST(element_at(requestParameters, 'durationSeconds') AS INTEGER) / 60", "e4", 60),
    ("requestParameters['bucketName']", "e1", "b1"),
    ("json_extract_scalar(element_at(requestParameters, 'obj'), '$.a')", "e1", "1"),
    ("json_extract_scalar(element_at(requestParameters, 'obj'), '$.b')", "e1", None),
    ("json_extract_scalar(element_at(requestParameters, 'bucketName'), '$.a')", "e1", None),
    ("json_array_length(element_at(requestParameters, 'arr'))", "e1", 3),
    ("json_array_get(element_at(requestParameters, 'arr'), 1)", "e1", "x"),
    ("json_extract_scalar(eventJson, '$.userIdentity.sessionContext.sessionIssuer.arn')", "e1", ROLE),
    ("json_extract_scalar(eventJson, '$.requestParameters')", "e1", None),
    ("json_size(eventJson, '$.resources')", "e1", 2),
    ("cardinality(requestParameters)", "e1", 6),
    ("cardinality(requestParameters)", "e2", None),
    ("cardinality(requestParameters)", "e4", 2),
    ("cardinality(map_keys(requestParameters))", "e1", 6),
    ("cardinality(additionalEventData)", "e3", 2),
    # Arrays of rows.
    ("cardinality(resources)", "e1", 2),
    ("cardinality(resources)", "e4", 0),
    ("cardinality(resources)", "e2", None),
    ("element_at(resources, 1).arn", "e1", "arn:aws:s3:::b1"),
    ("element_at(resources, -1).type", "e1", "AWS::S3::Object"),
    ("element_at(resources, 3)", "e1", None),
    ("resources[2].arn", "e1", "arn:aws:s3:::b1/k1"),
    ("any_match(resources, r -> r.type = 'AWS::S3::Object')", "e1", True),
    ("any_match(resources, r -> r.type = 'AWS::IAM::Role')", "e1", False),
    ("any_match(resources, r -> r.type = 'AWS::S3::Object')", "e4", False),
    ("all_match(resources, r -> r.arn LIKE 'arn:aws:s3:::b1%')", "e1", True),
    ("transform(resources, r -> r.arn)", "e1", ["arn:aws:s3:::b1", "arn:aws:s3:::b1/k1"]),
    ("filter(resources, r -> r.accountId IS NOT NULL)[1].arn", "e1", "arn:aws:s3:::b1"),
    ("array_join(transform(resources, r -> r.type), '|')", "e1", "AWS::S3::Bucket|AWS::S3::Object"),
    # Columns with Lake's types.
    ("readOnly", "e1", True),
    ("managementEvent", "e1", False),
    ("eventTime", "e1", dt.datetime(2024, 7, 30, 21, 31, 21)),
    ("typeof(eventTime)", "e1", "timestamp(3)"),
    ("typeof(eventName)", "e1", "varchar"),
    ("typeof(requestParameters)", "e1", "map(varchar, varchar)"),
    ("format_datetime(eventTime, 'yyyy-MM-dd HH:mm')", "e1", "2024-07-30 21:31"),
    ("date_format(eventTime, '%Y-%m-%dT%H:%i:%sZ')", "e1", "2024-07-30T21:31:21Z"),
    ("to_iso8601(eventTime)", "e1", "2024-07-30T21:31:21.000"),
    ("to_unixtime(eventTime)", "e1", 1722375081.0),
    ("date_diff('minute', eventTime, TIMESTAMP '2024-07-30 22:00:00')", "e1", 28),
    ("date_trunc('hour', eventTime)", "e1", dt.datetime(2024, 7, 30, 21, 0)),
    ("regexp_like(userAgent, '^aws-cli/2\\.')", "e1", True),
    ("regexp_extract(userAgent, 'Python/([0-9.]+)', 1)", "e1", "3.11"),
    ("split_part(userIdentity.arn, '/', 3)", "e1", "alice"),
    ("split(userIdentity.arn, ':')[5]", "e1", "111122223333"),
    ("url_extract_host(element_at(additionalEventData, 'LoginTo'))", "e3", "console.aws.amazon.com"),
    ("strpos(eventSource, '.amazonaws.com')", "e1", 3),
    ("contains('10.0.0.0/8', CAST(sourceIPAddress AS IPADDRESS))", "e1", True),
    ("contains('10.0.0.0/8', CAST(sourceIPAddress AS IPADDRESS))", "e3", False),
    ("contains('10.0.0.0/8', CAST(sourceIPAddress AS IPADDRESS))", "e4", False),
    ("contains('10.0.0.0/8', TRY_CAST(sourceIPAddress AS IPADDRESS))", "e2", None),
]


@pytest.mark.parametrize(("expr", "event_id", "expected"), EVENT_VALUES,
                         ids=[f"{e[1]}:{e[0][:60]}" for e in EVENT_VALUES])
def test_event_value_matches_trino(store: LocalStore, expr: str, event_id: str, expected: Any) -> None:
    assert on_event(store, expr, event_id) == expected


def test_struct_fields_in_where_group_and_order(store: LocalStore) -> None:
    got = rows(store, """
        SELECT userIdentity.sessionContext.sessionIssuer.arn AS issuer, count(*) AS n
        FROM $EDS_ID
        WHERE userIdentity.type = 'AssumedRole'
        GROUP BY userIdentity.sessionContext.sessionIssuer.arn
        ORDER BY n DESC""")
    assert got == [(None, 2), (ROLE, 1)]


def test_map_subscript_on_a_missing_key_fails_as_in_trino(store: LocalStore) -> None:
    # Trino's m['k'] raises "Key not present in map"; element_at(m, 'k') is the NULL-safe form.
    with pytest.raises(SqlError, match="Key not present in map: bucketName"):
        store.query("SELECT requestParameters['bucketName'] FROM $EDS_ID WHERE eventID = 'e4'")
    with pytest.raises(SqlError, match="Array subscript out of bounds"):
        store.query("SELECT resources[3] FROM $EDS_ID WHERE eventID = 'e1'")


def test_date_add_window_selects_the_events_inside_it(store: LocalStore) -> None:
    got = rows(store, """
        SELECT eventID FROM $EDS_ID
        WHERE eventTime >= $START_TIME AND eventTime < date_add('minute', 10, $START_TIME)
        ORDER BY eventTime""", {"start_time": dt.datetime(2024, 7, 30, 21, 31, 21, tzinfo=UTC)})
    assert got == [("e1",), ("e5",)]  # e2 at 21:41:21 is exactly 10 minutes later: excluded
    got = rows(store, """
        SELECT eventID FROM $EDS_ID
        WHERE eventTime BETWEEN date_add('hour', -1, $END_TIME) AND $END_TIME ORDER BY 1""",
               {"end_time": dt.datetime(2024, 7, 31, 0, 5)})
    assert got == [("e3",), ("e4",)]


def test_from_iso8601_timestamp_compares_with_event_time_in_utc(store: LocalStore) -> None:
    # 23:40 at +02:00 is 21:40 UTC: e2 (21:41:21), e3, e4 are later.
    got = rows(store, """SELECT eventID FROM $EDS_ID
                         WHERE eventTime > from_iso8601_timestamp('2024-07-30T23:40:00+02:00') ORDER BY 1""")
    assert got == [("e2",), ("e3",), ("e4",)]
    got = rows(store, """SELECT count(*) FROM $EDS_ID
                         WHERE eventTime >= from_iso8601_timestamp('2024-07-31T00:00:00Z')""")
    assert got == [(1,)]
    # Lake's own documentation compares eventTime with text.
    got = rows(store, "SELECT count(*) FROM $EDS_ID WHERE eventTime >= '2024-07-30 23:00:00'")
    assert got == [(2,)]


def test_unnest_resources_with_one_alias_binds_the_row(store: LocalStore) -> None:
    got = rows(store, """
        SELECT eventID, r.arn, r.type FROM $EDS_ID CROSS JOIN UNNEST(resources) AS t(r) ORDER BY 2""")
    assert got == [("e1", "arn:aws:s3:::b1", "AWS::S3::Bucket"), ("e1", "arn:aws:s3:::b1/k1", "AWS::S3::Object")]


def test_unnest_resources_with_field_aliases_expands_the_row(store: LocalStore) -> None:
    # Trino expands an array of rows into one column per field.
    got = rows(store, """
        SELECT eventID, t.arn, type, accountid FROM $EDS_ID
        CROSS JOIN UNNEST(resources) AS t(accountid, type, arn, arnprefix) ORDER BY 2""")
    assert got == [("e1", "arn:aws:s3:::b1", "AWS::S3::Bucket", "111122223333"),
                   ("e1", "arn:aws:s3:::b1/k1", "AWS::S3::Object", None)]


def test_unnest_with_ordinality_and_left_join(store: LocalStore) -> None:
    got = rows(store, """
        SELECT eventID, r.arn, n FROM $EDS_ID
        CROSS JOIN UNNEST(resources) WITH ORDINALITY AS t(r, n) ORDER BY 3""")
    assert got == [("e1", "arn:aws:s3:::b1", 1), ("e1", "arn:aws:s3:::b1/k1", 2)]
    got = rows(store, """
        SELECT eventID, arn, n FROM $EDS_ID
        CROSS JOIN UNNEST(resources) WITH ORDINALITY AS t(accountid, type, arn, arnprefix, n) ORDER BY 3""")
    assert got == [("e1", "arn:aws:s3:::b1", 1), ("e1", "arn:aws:s3:::b1/k1", 2)]
    got = rows(store, """
        SELECT eventID, count(r.arn) FROM $EDS_ID LEFT JOIN UNNEST(resources) AS t(r) ON TRUE
        GROUP BY eventID ORDER BY 1""")
    assert got == [("e1", 2), ("e2", 0), ("e3", 0), ("e4", 0), ("e5", 0)]


def test_unnest_of_a_map_gives_key_and_value(store: LocalStore) -> None:
    got = rows(store, """
        SELECT k, v FROM $EDS_ID CROSS JOIN UNNEST(requestParameters) AS t(k, v)
        WHERE eventID = 'e4' ORDER BY k""")
    assert got == [("durationSeconds", "3600"), ("roleArn", ROLE)]


def test_unnest_of_several_arrays_zips_and_pads_with_null(store: LocalStore) -> None:
    got = rows(store, """
        SELECT n, a FROM (VALUES (ARRAY[2, 5], ARRAY['dog', 'cat', 'bird'])) AS x (numbers, animals)
        CROSS JOIN UNNEST(numbers, animals) AS t (n, a) ORDER BY a""")  # docs
    assert got == [(None, "bird"), (5, "cat"), (2, "dog")]
    got = rows(store, """
        SELECT a, b, rownumber FROM UNNEST(ARRAY[2, 5], ARRAY[7, 8, 9]) WITH ORDINALITY AS t(a, b, rownumber)
        ORDER BY 3""")  # docs
    assert got == [(2, 7, 1), (5, 8, 2), (None, 9, 3)]


def test_aggregates_return_what_trino_returns(store: LocalStore) -> None:
    got = rows(store, """
        SELECT count(*) AS n,
               count_if(errorCode IS NOT NULL) AS errors,
               count_if(errorCode = 'AccessDenied' AND eventSource = 's3.amazonaws.com') AS s3_denied,
               approx_distinct(eventName) AS names,
               approx_distinct(userIdentity.arn) AS actors,
               max_by(eventName, eventTime) AS last_name,
               min_by(eventName, eventTime) AS first_name,
               max_by(errorCode, eventTime) AS last_error,
               min(eventTime) AS first_seen,
               max(eventTime) AS last_seen
        FROM $EDS_ID""")
    assert got == [(5, 2, 2, 5, 2, "AssumeRole", "GetObject", None,
                    dt.datetime(2024, 7, 30, 21, 31, 21), dt.datetime(2024, 7, 31, 0, 5))]


def test_grouped_aggregates_and_array_agg(store: LocalStore) -> None:
    got = rows(store, """
        SELECT userIdentity.arn AS actor,
               array_agg(eventID ORDER BY eventTime) AS event_ids,
               array_agg(errorCode ORDER BY eventTime) AS errors,
               max_by(sourceIPAddress, eventTime) AS last_ip,
               max_by(eventName, eventTime, 2) AS last_two,
               arbitrary(recipientAccountId) IS NULL OR arbitrary(recipientAccountId) = '111122223333' AS acct,
               count(DISTINCT eventSource) AS sources
        FROM $EDS_ID GROUP BY userIdentity.arn ORDER BY actor""")
    assert got == [
        (USER, ["e3", "e4"], [None, None], "2001:db8::1", ["AssumeRole", "ConsoleLogin"], True, 2),
        (SESSION, ["e1", "e5", "e2"], [None, "AccessDenied", "AccessDenied"], "AWS Internal",
         ["PutObject", "ListBuckets"], True, 1),
    ]


def test_array_agg_distinct_is_sorted_so_results_are_stable(store: LocalStore) -> None:
    # Trino leaves the order undefined; the local engine sorts, so fixtures compare equal.
    got = rows(store, "SELECT array_agg(DISTINCT eventSource), array_join(array_agg(DISTINCT awsRegion), ',') "
                      "FROM $EDS_ID")
    assert got == [(["s3.amazonaws.com", "signin.amazonaws.com", "sts.amazonaws.com"], "eu-west-1,us-east-1")]


def test_integer_division_in_a_cte_and_ratios(store: LocalStore) -> None:
    got = rows(store, """
        WITH per_actor AS (
            SELECT userIdentity.arn AS actor, count(*) AS n, count_if(errorCode IS NOT NULL) AS errors
            FROM $EDS_ID GROUP BY 1)
        SELECT actor, errors / n AS int_ratio, CAST(errors AS DOUBLE) / n AS ratio, n / 2 AS half
        FROM per_actor ORDER BY actor""")
    assert got == [(USER, 0, 0.0, 1), (SESSION, 0, 2 / 3, 1)]
    got = rows(store, "SELECT x / y FROM (VALUES (7, 2)) AS t(x, y)")
    assert got == [(3,)]


def test_nulls_sort_last_in_both_directions(store: LocalStore) -> None:
    got = rows(store, "SELECT errorCode FROM $EDS_ID ORDER BY errorCode DESC, eventID")
    assert got == [("AccessDenied",), ("AccessDenied",), (None,), (None,), (None,)]


def test_window_functions(store: LocalStore) -> None:
    got = rows(store, """
        SELECT eventID, row_number() OVER (PARTITION BY userIdentity.arn ORDER BY eventTime) AS rn,
               lag(eventName) OVER (PARTITION BY userIdentity.arn ORDER BY eventTime) AS prev
        FROM $EDS_ID ORDER BY eventTime""")
    assert got == [("e1", 1, None), ("e5", 2, "GetObject"), ("e2", 3, "ListBuckets"),
                   ("e3", 1, None), ("e4", 2, "ConsoleLogin")]


def test_subqueries_exists_and_set_operations(store: LocalStore) -> None:
    got = rows(store, """
        SELECT eventID FROM $EDS_ID e
        WHERE EXISTS (SELECT 1 FROM $EDS_ID x WHERE x.userIdentity.arn = e.userIdentity.arn
                      AND x.errorCode IS NOT NULL)
          AND eventTime > (SELECT min(eventTime) FROM $EDS_ID)
        UNION SELECT 'e9' ORDER BY 1""")
    assert got == [("e2",), ("e5",), ("e9",)]


# --------------------------------------------------------------------------------------------
# Rejections: one-line errors naming the construct and its line, never a DuckDB trace.
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT levenshtein_distance(eventName, 'x') FROM t", r"levenshtein_distance \(line 1\)"),
    ("SELECT\n  eventName,\n  my_udf(eventName)\nFROM t", r"my_udf \(line 3\)"),
    ("SELECT rand() FROM t", r"rand \(line 1\)"),
    ("SELECT reduce(ARRAY[1], 0, (s, x) -> s + x, s -> s) FROM t", r"reduce"),
    ("SELECT 7 / 2.0", r"decimal division .*\(line 1\)"),
    ("SELECT count_if(errorCode IS NULL) * 1.0 / count(*) FROM t", r"decimal division"),
    ("SELECT contains('2001:db8::/32', CAST(sourceIPAddress AS IPADDRESS)) FROM t", r"only IPv4 CIDR"),
    ("SELECT CAST(sourceIPAddress AS IPADDRESS) FROM t", r"CAST to IPADDRESS"),
    ("SELECT format_datetime(eventTime, 'yyyy kk') FROM t", r"format_datetime pattern letter kk"),
    ("SELECT date_format(eventTime, '%D') FROM t", r"date_format specifier %D"),
    ("SELECT date_add('fortnight', 1, eventTime) FROM t", r"date_add unit 'fortnight'"),
    ("SELECT json_extract_scalar(eventJson, '$.a[*]') FROM t", r"JSON path"),
    ("SELECT strpos(eventName, 'a', 2) FROM t", r"strpos with 3 arguments"),
    ("SELECT min(eventTime, 2) FROM t", r"min with expressions"),
    ("SELECT eventTime AT TIME ZONE 'America/New_York' FROM t", r"AT TIME ZONE"),
    ("SELECT max_by(a, b, c, d) FROM t", r"max_by with 4 arguments"),
])
def test_unsupported_constructs_are_named(sql: str, message: str) -> None:
    with pytest.raises(UnsupportedSqlError) as info:
        to_duckdb(sql)
    text = str(info.value)
    assert text.startswith("unsupported in the local engine: ")
    assert re.search(message, text), text
    assert "\n" not in text


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT json_extract_scalar(requestParameters, '$.bucketName') FROM events",
     r"expects varchar or JSON, got a map \(use element_at"),
    ("SELECT arn FROM events CROSS JOIN UNNEST(resources) AS u(a, b)",
     r"UNNEST yields 1 or 4 columns but its alias names 2"),
    ("SELECT cardinality(eventName) FROM events", r"cardinality expects an array or a map"),
])
def test_invalid_lake_sql_is_an_sql_error(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        to_duckdb(sql)


def test_parse_errors_name_line_and_column() -> None:
    with pytest.raises(SqlError, match=r"at line 2, column \d+") as info:
        to_duckdb("SELECT eventName\nFROM WHERE x = 1")
    assert "Token" not in str(info.value)
    with pytest.raises(SqlError, match="only SELECT"):
        to_duckdb("DELETE FROM t")
    with pytest.raises(SqlError, match="exactly one SQL statement"):
        to_duckdb("SELECT 1; SELECT 2")


def test_failures_on_the_local_engine_are_one_line(store: LocalStore) -> None:
    with pytest.raises(SqlError) as info:
        store.query("SELECT contains('10.0.0.0/8', CAST(sourceIPAddress AS IPADDRESS)) FROM $EDS_ID")
    assert "Cannot cast value to IPADDRESS: AWS Internal" in str(info.value)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------
# The emitted SQL itself.
# --------------------------------------------------------------------------------------------
def test_lambdas_use_duckdb_syntax() -> None:
    out = to_duckdb("SELECT transform(ARRAY[1], x -> x + 1), filter(ARRAY[1], x -> x > 0)")
    assert "->" not in out
    assert "LAMBDA x :" in out


def test_translation_is_deterministic_and_reparses_as_duckdb() -> None:
    import sqlglot

    sql = """SELECT element_at(requestParameters, 'k'), any_match(resources, r -> r.arn LIKE 'a%'),
             json_extract_scalar(eventJson, '$.a'), x / 2 FROM t CROSS JOIN UNNEST(resources) AS u(r)"""
    out = to_duckdb(sql)
    assert out == to_duckdb(sql)
    assert sqlglot.parse_one(out, read="duckdb") is not None


@pytest.mark.parametrize(("pattern", "expected"), [
    ("yyyy-MM-dd'T'HH:mm:ss.SSS", "%Y-%m-%dT%H:%M:%S.%g"),
    ("''yy''", "'%y'"),
    ("d/M h:m:s a", "%-d/%-m %-I:%-M:%-S %p"),
    ("100%", "100%%"),
])
def test_joda_patterns(pattern: str, expected: str) -> None:
    assert joda_to_strftime(pattern) == expected


@pytest.mark.parametrize(("fmt", "expected"), [
    ("%Y-%m-%d %H:%i:%s", "%Y-%m-%d %H:%M:%S"),
    ("%q%%", "q%%"),  # an unknown specifier is the character itself
])
def test_mysql_formats(fmt: str, expected: str) -> None:
    assert mysql_to_strftime(fmt) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("$.a.b", '$."a"."b"'),
    ("$[0]", "$[0]"),
    ('$["a b"][2]', '$."a b"[2]'),
    ("$.store[book]", '$."store"."book"'),
])
def test_json_paths(path: str, expected: str) -> None:
    assert trino_json_path(path) == expected
