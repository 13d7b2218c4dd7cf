"""Athena parity: the same raw logs, loaded Lake-shaped and Athena-shaped, give the same rows.

For every detection in ``sql/detections/`` and every fixture file (its own, every other
detection's, and the benign baseline), the Lake SQL runs on the Lake-shaped local store and
the Athena rewrite (translated to DuckDB with the same gap rewrites) runs on a DuckDB table
shaped like the documented Athena CloudTrail table. The investigation queries are checked the
same way over the reference Stratus Red Team recording.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from trailhound.detections.model import Detection, fixtures_dir, load_detections, sql_dir
from trailhound.detections.runner import query_params
from trailhound.detections.testing import fixture_store, store_window
from trailhound.store.athena_local import AthenaLocalStore
from trailhound.store.base import QueryResult
from trailhound.store.local import LocalStore

os.environ["TZ"] = "UTC"

PACK = load_detections()
BY_ID = {d.id: d for d in PACK}
FIXTURE_FILES = sorted(fixtures_dir().glob("*/*.json"))
REFERENCE = Path("/work/shared/reference/stratus-detonation-logs.jsonl")
INVESTIGATIONS = sorted((sql_dir() / "investigations").glob("*.sql"))


def deterministic(con: Any) -> None:
    """One thread, insertion order kept: ties of max_by/arbitrary resolve alike on both tables."""
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = true")


@cache
def athena_store(paths: tuple[Path, ...], delay_s: int = 300, slack_s: int = 86400) -> AthenaLocalStore:
    store = AthenaLocalStore(delivery_delay=dt.timedelta(seconds=delay_s),
                             delivery_slack=dt.timedelta(seconds=slack_s))
    store.ingest([str(p) for p in paths])
    deterministic(store.con)
    return store


@cache
def lake_store(paths: tuple[Path, ...]) -> LocalStore:
    store = fixture_store(paths)  # the same cached store the fixture tests use
    deterministic(store.con)
    return store


def _norm(value: Any) -> Any:
    """Order-insensitive form: array_agg and array_join(array_agg(DISTINCT ...), ',') have no
    defined element order in Trino, and the two plans legitimately differ there."""
    if isinstance(value, (list, tuple)):
        return tuple(sorted((_norm(v) for v in value), key=repr))
    if isinstance(value, str) and "," in value:
        return ("<list>", *sorted(value.split(",")))
    if isinstance(value, float):
        return round(value, 9)
    return value


def canonical(rows: list[Mapping[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    """Rows as sorted tuples (column order and array element order do not matter)."""
    out = [tuple(sorted((k.lower(), _norm(v)) for k, v in r.items())) for r in rows]
    return sorted(out, key=repr)


def compare(expected: QueryResult, got: QueryResult, what: str, athena_sql: str) -> int:
    assert [c.lower() for c in got.columns] == [c.lower() for c in expected.columns], what
    assert canonical(got.rows) == canonical(expected.rows), (
        f"{what}: Athena rewrite returned different rows\n--- athena SQL ---\n{athena_sql}")
    return len(expected.rows)


def assert_same(sql: str, params: Mapping[str, Any], lake: LocalStore, athena: AthenaLocalStore, what: str) -> int:
    return compare(lake.query(sql, params), athena.query(sql, params), what, athena.athena_sql(sql, params))


# All fixture files (every detection's positives and near-miss negatives, and the benign
# baseline) in one Lake-shaped and one Athena-shaped store, over one window covering them all.
ALL_FILES = tuple(FIXTURE_FILES)


@cache
def window() -> tuple[dt.datetime, dt.datetime]:
    return store_window(lake_store(ALL_FILES))


def test_pack_and_fixtures_exist() -> None:
    assert PACK and FIXTURE_FILES


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_detection_same_rows_on_athena(det: Detection) -> None:
    params = query_params(det, *window())
    lake, athena = lake_store(ALL_FILES), athena_store(ALL_FILES)
    athena_sql = athena.athena_sql(det.sql, params)
    n = compare(lake.query(det.sql, params), athena.execute(athena.translate(athena_sql)),
                f"{det.id} on all fixtures", athena_sql)
    ROWS[det.id] = n


ROWS: dict[str, int] = {}


def test_parity_is_not_vacuous() -> None:
    """Most detections raise rows on the fixtures (their positives), so the equality means something."""
    for det in PACK:
        if det.id not in ROWS:
            test_detection_same_rows_on_athena(det)
    with_fixtures = {p.parent.name for p in FIXTURE_FILES if p.name.startswith("positive_")}
    silent = sorted(d for d in with_fixtures if d in ROWS and ROWS[d] == 0)
    assert len(silent) <= len(with_fixtures) // 10, f"no rows at all for {silent}"


# -- investigations and the tricky rewrites, over the reference recording ---------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStore, AthenaLocalStore, Path]:
    if not REFERENCE.exists():
        pytest.skip("reference recording not available")
    records = [json.loads(line)["event"] for line in REFERENCE.read_text(encoding="utf-8").splitlines() if line]
    path = tmp_path_factory.mktemp("ref") / "reference.json"
    path.write_text(json.dumps({"Records": records}), encoding="utf-8")
    lake = LocalStore(":memory:")
    lake.ingest([str(path)])
    deterministic(lake.con)
    athena = AthenaLocalStore()
    athena.ingest([str(path)])
    deterministic(athena.con)
    return lake, athena, path


WIDE = {"START_TIME": dt.datetime(2024, 7, 1, tzinfo=dt.UTC), "END_TIME": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)}


def _actors(lake: LocalStore) -> list[tuple[str, str]]:
    rows = lake.con.execute(
        "SELECT userIdentity.arn, any_value(userIdentity.accessKeyId) FROM events "
        "WHERE userIdentity.arn IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 3").fetchall()
    return [(r[0], r[1] or "none") for r in rows]


@pytest.mark.parametrize("path", INVESTIGATIONS, ids=lambda p: p.stem)
def test_investigations_same_rows(path: Path, reference: tuple[LocalStore, AthenaLocalStore, Path]) -> None:
    lake, athena, _ = reference
    from trailhound.sql.params import placeholders

    sql = path.read_text(encoding="utf-8")
    names = placeholders(sql) - {"EDS_ID"}
    for arn, key in _actors(lake):
        values: dict[str, Any] = {**WIDE, "ACTOR_ARN": arn, "ACCESS_KEY_ID": key, "PRINCIPAL_ARN": arn,
                                  "SOURCE_IP": "192.0.2.10", "LIMIT": 100}
        values["AFTER"] = WIDE["START_TIME"]
        params = {n: values[n] for n in names if n in values}
        if set(params) != names:
            pytest.skip(f"{path.name}: unknown parameters {sorted(names - set(params))}")
        assert_same(sql, params, lake, athena, f"{path.stem} for {arn}")


TRICKY = {
    # nested objects and arrays come back as JSON text, scalars (numbers, booleans) as text
    "map_values": """
        SELECT eventID, element_at(requestParameters, 'instanceId') AS instance,
               element_at(requestParameters, 'maxResults') AS max_results,
               element_at(requestParameters, 'filterSet') AS filter_set,
               element_at(requestParameters, 'instancesSet') AS instances_set,
               element_at(requestParameters, 'includeAllInstances') AS include_all,
               element_at(responseElements, 'ConsoleLogin') AS console_login,
               element_at(additionalEventData, 'MFAUsed') AS mfa
        FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME""",
    "nested_json": """
        SELECT eventID, json_extract_scalar(element_at(requestParameters, 'instancesSet'), '$.items[0].instanceId') AS i
        FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
          AND element_at(requestParameters, 'instancesSet') IS NOT NULL""",
    "booleans_and_times": """
        SELECT readOnly, count(*) AS n, min(eventTime) AS first_seen, max(eventTime) AS last_seen,
               max(userIdentity.sessionContext.attributes.creationDate) AS newest_session,
               count_if(userIdentity.sessionContext.attributes.mfaAuthenticated = 'true') AS n_mfa
        FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME AND readOnly = false
        GROUP BY readOnly""",
    "resources_element": """
        SELECT eventID, cardinality(resources) AS n_resources,
               CASE WHEN cardinality(resources) > 0 THEN resources[1].arn END AS first_arn,
               CASE WHEN cardinality(resources) > 0 THEN resources[1].type END AS first_type
        FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME AND resources IS NOT NULL""",
    "resources_unnest": """
        SELECT e.eventID, r.arn, r.type, r.accountid
        FROM $EDS_ID AS e CROSS JOIN UNNEST(e.resources) AS r(accountid, type, arn, arnprefix)
        WHERE e.eventTime >= $START_TIME AND e.eventTime < $END_TIME""",
    "cte_and_self_join": """
        WITH writes AS (
          SELECT userIdentity.arn AS actor, min(eventTime) AS first_write
          FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME AND readOnly = false
          GROUP BY userIdentity.arn)
        SELECT w.actor, w.first_write, count(r.eventID) AS n_reads_before
        FROM writes AS w
        LEFT JOIN $EDS_ID AS r ON r.userIdentity.arn = w.actor AND r.readOnly = true
          AND r.eventTime >= date_add('day', -1, $START_TIME) AND r.eventTime < w.first_write
        GROUP BY w.actor, w.first_write""",
    "time_arithmetic": """
        SELECT eventName, date_diff('second', min(eventTime), max(eventTime)) AS span_s,
               approx_distinct(sourceIPAddress) AS ips
        FROM $EDS_ID WHERE eventTime BETWEEN $START_TIME AND $END_TIME
        GROUP BY eventName HAVING count(*) > 1""",
    "select_star": """
        SELECT * FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME AND eventName = 'GetPasswordData'""",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_rewrites_same_rows(name: str, reference: tuple[LocalStore, AthenaLocalStore, Path]) -> None:
    lake, athena, _ = reference
    sql = TRICKY[name]
    if name == "select_star":
        # SELECT * differs in shape by design (Athena has no eventJson etc.); compare the shared columns.
        a = athena.query(sql, WIDE)
        b = lake.query(sql, WIDE)
        assert len(a.rows) == len(b.rows) > 0
        shared = {c.lower() for c in a.columns} & {c.lower() for c in b.columns} - {
            "useridentity", "resources", "requestparameters", "responseelements", "additionaleventdata",
            "serviceeventdetails", "edgedevicedetails", "addendum", "tlsdetails"}
        pick = lambda rows: canonical([{k: v for k, v in r.items() if k.lower() in shared} for r in rows])  # noqa: E731
        assert pick(a.rows) == pick(b.rows)
        return
    n = assert_same(sql, WIDE, lake, athena, name)
    assert n > 0, f"{name}: no rows, the comparison proves nothing"


def test_late_delivery_needs_the_slack(reference: tuple[LocalStore, AthenaLocalStore, Path]) -> None:
    """Events delivered into a later day's folder are found thanks to the slack, lost without it."""
    lake, _, path = reference
    sql = ("SELECT eventID FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME")
    day = {"START_TIME": dt.datetime(2024, 7, 30, tzinfo=dt.UTC), "END_TIME": dt.datetime(2024, 7, 30, 23, tzinfo=dt.UTC)}
    late = athena_store((path,), delay_s=20 * 3600)  # every event lands in the next day's folder
    assert_same(sql, day, lake, late, "late delivery with the default slack")
    assert len(lake.query(sql, day).rows) > 0
    no_slack = athena_store((path,), delay_s=20 * 3600, slack_s=0)
    assert len(no_slack.query(sql, day).rows) < len(lake.query(sql, day).rows)
