"""Meta-tests over the whole detection pack: format, output contract, fixtures, baseline, style.

Every detection is *executed* on DuckDB over its fixtures (one cached in-memory store per
fixture file), never only parsed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlglot import exp
from trailhound.config import Settings
from trailhound.detections.coverage import coverage, load_uncovered
from trailhound.detections.model import CONTRACT_COLUMNS, ColumnType, Detection, fixtures_dir, load_detections
from trailhound.detections.runner import run_detection
from trailhound.detections.testing import (
    BASELINE,
    FixtureKind,
    evaluate_baseline,
    evaluate_fixture,
    fixture_event_ids,
    fixture_files,
    fixture_result,
    fixture_store,
    store_window,
)
from trailhound.sql.params import bind
from trailhound.sql.translate import parse_trino

PACK = load_detections()
BY_ID = {d.id: d for d in PACK}
FIXTURES = [(d.id, p) for d in PACK for kind in FixtureKind for p in fixture_files(d.id)[kind]]
ALL_FIXTURE_FILES = sorted(p for p in fixtures_dir().glob("*/*.json"))


def test_pack_has_at_least_40_detections() -> None:
    assert len(PACK) >= 40, f"the pack has {len(PACK)} detections; issue 3 asks for at least 40"


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_id_equals_file_name(det: Detection) -> None:
    assert det.path.stem == det.id
    assert det.path.suffix == ".sql"


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_has_positive_and_negative_fixtures(det: Detection) -> None:
    files = fixture_files(det.id)
    assert files[FixtureKind.POSITIVE], f"{det.id}: no sql/fixtures/{det.id}/positive_*.json"
    assert files[FixtureKind.NEGATIVE], f"{det.id}: no sql/fixtures/{det.id}/negative_*.json"


def test_fixture_dirs_belong_to_detections() -> None:
    stray = sorted(d.name for d in fixtures_dir().iterdir()
                   if d.is_dir() and d.name != BASELINE and d.name not in BY_ID)
    assert not stray, f"fixture folders without a detection: {stray}"
    misnamed = [p.name for p in ALL_FIXTURE_FILES
                if p.parent.name != BASELINE and not p.name.startswith(("positive_", "negative_"))]
    assert not misnamed, f"fixture files must be positive_*.json or negative_*.json: {misnamed}"


@pytest.mark.parametrize(("det_id", "path"), FIXTURES, ids=[f"{d}/{p.name}" for d, p in FIXTURES])
def test_fixture(det_id: str, path: Path) -> None:
    result = evaluate_fixture(BY_ID[det_id], path)
    assert result.passed, f"{path}: {result.message}"


def _check_type(det: Detection, col: str, typ: ColumnType, value: object) -> None:
    where = f"{det.id}: column {col}"
    if typ is ColumnType.ARRAY:
        assert isinstance(value, list) and value, f"{where}: expected a non-empty array, got {value!r}"
        assert all(isinstance(v, str) for v in value), f"{where}: expected array(varchar), got {value!r}"
    elif typ is ColumnType.TIMESTAMP:
        assert isinstance(value, dt.datetime), f"{where}: expected a timestamp, got {type(value).__name__}"
    else:
        assert value is None or isinstance(value, str), f"{where}: expected varchar, got {type(value).__name__}"


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_output_contract_on_duckdb(det: Detection) -> None:
    positives = fixture_files(det.id)[FixtureKind.POSITIVE]
    if not positives:
        pytest.fail(f"{det.id}: no positive fixture to execute")
    rows = 0
    for path in positives:
        result = fixture_result(det, path)
        missing = [c for c in CONTRACT_COLUMNS if c not in result.columns]
        assert not missing, f"{det.id}: result has no column {missing}"
        for row in result.rows:
            rows += 1
            for col, typ in CONTRACT_COLUMNS.items():
                _check_type(det, col, typ, row[col])
            assert row["first_seen"] <= row["last_seen"], f"{det.id}: first_seen after last_seen"
            assert set(row["event_ids"]) <= fixture_event_ids(path)
            for col in det.header.dedup_key:
                assert col in row, f"{det.id}: dedup_key column {col} not in the result"
    assert rows, f"{det.id}: its positive fixtures returned no rows"


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_window_is_respected(det: Detection) -> None:
    """The same positive evidence, just outside the window (either side), raises nothing."""
    path = fixture_files(det.id)[FixtureKind.POSITIVE][0]
    store = fixture_store((path,))
    start, end = store_window(store)
    hour = dt.timedelta(hours=1)
    assert run_detection(store, det, start - hour, start, settings=Settings()) == []
    assert run_detection(store, det, end, end + hour, settings=Settings()) == []


# --- behaviour, not artefacts ----------------------------------------------------------------

_ARTEFACTS = re.compile(r"stratus|pacu|red[-_ ]?team|atomic|kali|parrot|cloudgoat|metasploit|aws-cli|boto|"
                        r"terraform|pulumi|cloudformation\.amazonaws\.com/|python-requests|curl/", re.I)


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_sql_names_no_tool_or_test_resource(det: Detection) -> None:
    text = det.sql
    m = _ARTEFACTS.search(text)
    assert m is None, f"{det.id}: SQL mentions {m.group(0)!r}; key on behaviour, not on a tool or test name"
    assert not re.search(r"user_?agent\s*(like|=|<>|!=|in\s*\()", text, re.I), \
        f"{det.id}: SQL compares the user agent"


def _probe_tree(det: Detection) -> exp.Expression:
    sql = bind(det.sql, {"START_TIME": dt.datetime(2026, 1, 1), "END_TIME": dt.datetime(2026, 1, 2),
                         "THRESHOLD": 1}, table="events")
    return parse_trino(sql)


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_user_agent_only_projected(det: Detection) -> None:
    """``userAgent`` may be returned, never used to decide (WHERE, HAVING, JOIN, CASE, functions)."""
    tree = _probe_tree(det)
    for col in tree.find_all(exp.Column):
        if col.name.lower() != "useragent":
            continue
        node: exp.Expression | None = col.parent
        while node is not None and not isinstance(node, exp.Select):
            assert not isinstance(node, (exp.Where, exp.Having, exp.Join, exp.If, exp.Case, exp.Predicate,
                                         exp.RegexpLike, exp.StrPosition, exp.Like)), \
                f"{det.id}: userAgent used in {node.key.upper()}"
            node = node.parent


@pytest.mark.parametrize("det", PACK, ids=lambda d: d.id)
def test_portable_sql(det: Detection) -> None:
    """No columns that the Athena table lacks, no functions DuckDB translation cannot vouch for."""
    code = re.sub(r"'(?:[^']|'')*'", "''", det.sql).lower()
    for banned in ("eventjson", "managementevent", "annotation", "insightdetails", "any_match", "all_match",
                   "transform(", "format_datetime", "url_extract", "json_size", "json_array_"):
        assert banned not in code, f"{det.id}: uses {banned}, which is not portable (see docs/detections.md)"


# --- fixtures ------------------------------------------------------------------------------

_REQUIRED = ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
             "sourceIPAddress", "userAgent", "requestParameters", "eventID", "readOnly", "eventType",
             "recipientAccountId", "eventCategory")


def _records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["Records"]


def test_event_ids_unique_across_fixtures() -> None:
    counts = Counter(r["eventID"] for p in ALL_FIXTURE_FILES for r in _records(p))
    dupes = [e for e, n in counts.items() if n > 1]
    assert not dupes, f"eventIDs used in more than one fixture record: {dupes[:5]}"


@pytest.mark.parametrize("path", ALL_FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_records_are_complete(path: Path) -> None:
    records = _records(path)
    assert "stratus" not in json.dumps(records).lower(), f"{path}: reuses a Stratus resource name or user agent"
    for i, r in enumerate(records):
        missing = [k for k in _REQUIRED if k not in r]
        assert not missing, f"{path}: record {i} lacks {missing}"
        ident = r["userIdentity"]
        assert ident.get("type"), f"{path}: record {i}: userIdentity.type"
        if ident["type"] in ("IAMUser", "AssumedRole", "Root"):
            for k in ("principalId", "arn", "accountId"):
                assert ident.get(k), f"{path}: record {i}: userIdentity.{k}"
        if ident["type"] == "AssumedRole":
            assert ident.get("sessionContext", {}).get("sessionIssuer", {}).get("arn"), \
                f"{path}: record {i}: an assumed role needs sessionContext.sessionIssuer"
        if r["eventType"] == "AwsApiCall" and ident["type"] != "AWSService" and not ident.get("invokedBy"):
            assert r.get("requestID") and r.get("tlsDetails"), f"{path}: record {i}: requestID/tlsDetails"


# --- the benign baseline ---------------------------------------------------------------------

def test_baseline_raises_only_accepted_findings() -> None:
    result = evaluate_baseline(PACK)
    if result is None:
        pytest.skip("no benign baseline yet (sql/fixtures/_baseline/*.json)")
    assert result.passed, "baseline raised findings not in accepted.yaml:\n" + "\n".join(
        f"  {f.detection_id}: {f.actor_arn} {f.event_name} {f.target}" for f in result.unexpected)
    for accepted in (a for _, a in result.accepted):
        assert accepted.detection in BY_ID
        assert accepted.reason.strip()


# --- coverage --------------------------------------------------------------------------------

def test_uncovered_reasons_are_consistent() -> None:
    uncovered = load_uncovered()
    both = sorted(r.technique for r in coverage(PACK, uncovered) if r.covered and r.technique in uncovered)
    assert not both, f"techniques listed as uncovered in uncovered.yaml but covered by a detection: {both}"


def test_every_technique_covered_or_explained() -> None:
    missing = [r.technique for r in coverage(PACK) if not r.covered and not r.uncovered_reason]
    assert not missing, f"techniques neither covered nor explained in uncovered.yaml: {missing}"


@pytest.mark.parametrize("doc", ["docs/detections.md", "README.md"])
def test_coverage_table_in_docs_is_current(doc: str) -> None:
    from trailhound.detections.coverage import coverage_markdown, table_between_markers

    path = Path(__file__).resolve().parents[2] / doc
    assert table_between_markers(path) == coverage_markdown(coverage(PACK)), (
        f"{doc} coverage table is stale: run `trailhound detections coverage --write {doc}`")
