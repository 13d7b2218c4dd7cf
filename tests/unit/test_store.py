"""The local event store: the DuckDB file, its table, the EventStore interface, typed rows, errors.

Records: the Stratus-derived sample delivery file (``tests/unit/data/README.md``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trailhound.errors import SqlError, UserInputError
from trailhound.store import open_store
from trailhound.store.base import Engine, EventStore
from trailhound.store.local import DEFAULT_DB, LocalStore, connect, default_db_path
from trailhound.store.schema import COLUMN_NAMES, EVENTS_TABLE, create_table_sql

SAMPLE = Path(__file__).parent / "data" / "stratus-sample.json"
RECORDS: list[dict[str, Any]] = json.loads(SAMPLE.read_text())["Records"]


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "events.duckdb"
    with LocalStore(path) as s:
        assert s.ingest([SAMPLE]).added == len(RECORDS)
    return path


def test_a_new_store_has_the_lake_table_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "e.duckdb"
    with LocalStore(path) as s:
        assert path.exists()
        cols = [r[0] for r in s.con.execute(f"DESCRIBE {EVENTS_TABLE}").fetchall()]
        assert cols == COLUMN_NAMES
        assert s.con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        assert s.count() == 0 and s.time_range() == (None, None)
        assert s.name == f"local:{path}" and s.engine is Engine.DUCKDB
        assert isinstance(s, EventStore)


def test_event_json_is_stored_with_zstd_and_the_unique_ids_as_they_are(db: Path) -> None:
    with LocalStore(db) as s:
        s.con.execute("CHECKPOINT")
        methods = dict(s.con.execute(
            "SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info('events') "
            "WHERE column_name IN ('eventJson', 'eventID', 'requestID') AND segment_type = 'VARCHAR' "
            "GROUP BY 1").fetchall())
        assert methods == {"eventJson": ["ZSTD"], "eventID": ["Uncompressed"], "requestID": ["Uncompressed"]}
    assert "USING COMPRESSION zstd" in create_table_sql()


def test_reopening_keeps_the_events(db: Path) -> None:
    with LocalStore(db, read_only=True) as s:
        assert s.count() == len(RECORDS)
        first, last = s.time_range()
        assert first == min(dt.datetime.fromisoformat(r["eventTime"][:-1]) for r in RECORDS)
        assert last == max(dt.datetime.fromisoformat(r["eventTime"][:-1]) for r in RECORDS)


def test_read_only_on_a_missing_file_is_a_user_error_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "e.duckdb"
    with pytest.raises(UserInputError, match="no event store here; run `trailhound ingest` first"):
        LocalStore(path, read_only=True)
    assert not path.exists() and not path.parent.exists()


def test_stores_on_one_file_share_it_until_the_last_closes(db: Path) -> None:
    first, second = LocalStore(db), LocalStore(db)
    more = [{**RECORDS[0], "eventID": "shared-1"}]
    (db.parent / "more.jsonl").write_text(json.dumps(more[0]) + "\n")
    assert first.ingest([db.parent / "more.jsonl"]).added == 1
    assert second.count() == len(RECORDS) + 1  # the same data, not a second copy of the file
    first.close()
    assert second.count() == len(RECORDS) + 1  # still open
    with pytest.raises(UserInputError, match="already open for writing in this process"):
        LocalStore(db, read_only=True)
    second.close()
    with LocalStore(db, read_only=True) as s:  # the file was let go with the last store
        assert s.count() == len(RECORDS) + 1


def test_a_store_dropped_without_close_lets_its_file_go(db: Path) -> None:
    import gc

    s = LocalStore(db)
    del s
    gc.collect()
    with LocalStore(db, read_only=True) as ro:
        assert ro.count() == len(RECORDS)


def test_row_groups_hold_at_most_row_group_rows(tmp_path: Path) -> None:
    """The store's row-group size (``ROW_GROUP_ROWS``) holds for every connection to it."""
    from trailhound.store.local import ROW_GROUP_ROWS

    lines = "".join(json.dumps({"eventID": f"e{i}", "eventTime": "2024-07-30T22:00:00Z", "eventName": "X"}) + "\n"
                    for i in range(ROW_GROUP_ROWS + 5_000))
    (tmp_path / "many.jsonl").write_text(lines)
    path = tmp_path / "e.duckdb"
    with LocalStore(path) as s:
        assert s.ingest([tmp_path / "many.jsonl"]).added == ROW_GROUP_ROWS + 5_000
    with LocalStore(path) as s:
        s.con.execute("CHECKPOINT")
        sizes = [r[0] for r in s.con.execute(
            "SELECT sum(count) FROM pragma_storage_info('events') WHERE column_name = 'eventID' "
            "AND segment_type = 'VARCHAR' GROUP BY row_group_id").fetchall()]
    assert sum(sizes) == ROW_GROUP_ROWS + 5_000 and len(sizes) >= 2 and max(sizes) <= ROW_GROUP_ROWS


def test_a_file_that_is_not_a_database_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "e.duckdb"
    path.write_text("hello")
    with pytest.raises(UserInputError, match="cannot open the event store"):
        connect(path)


def test_query_returns_typed_rows_in_select_order(db: Path) -> None:
    rec = next(r for r in RECORDS if r["eventName"] == "GetPasswordData")
    with LocalStore(db, read_only=True) as s:
        result = s.query(
            "SELECT eventTime, readOnly, userIdentity.sessionContext.attributes.creationDate AS created, "
            "requestParameters, eventName FROM $EDS_ID WHERE eventID = $ID", {"ID": rec["eventID"]})
    assert result.columns == ["eventTime", "readOnly", "created", "requestParameters", "eventName"]
    assert result.rows == [{"eventTime": dt.datetime(2024, 7, 30, 21, 31, 21), "readOnly": True,
                            "created": dt.datetime(2024, 7, 30, 21, 31, 15),
                            "requestParameters": {"instanceId": "i-i2jnm5swa59p4fxg"},
                            "eventName": "GetPasswordData"}]
    assert "events" in result.sql and "$" not in result.sql
    assert len(result) == 1 and result.elapsed_s >= 0


def test_compile_shows_what_would_run_and_values_are_literals(db: Path) -> None:
    with LocalStore(db, read_only=True) as s:
        sql = s.compile("SELECT count(*) FROM $EDS_ID WHERE sourceIPAddress = $IP", {"IP": "1.2.3.4' --"})
        assert "'1.2.3.4'' --'" in sql
        assert s.query("SELECT count(*) AS n FROM $EDS_ID WHERE sourceIPAddress = $IP",
                       {"IP": "1.2.3.4' --"}).rows == [{"n": 0}]


def test_engine_errors_are_one_line_sql_errors(db: Path) -> None:
    with LocalStore(db, read_only=True) as s:
        with pytest.raises(SqlError) as err:
            s.execute("SELECT nosuch FROM events")
        assert "\n" not in str(err.value) and "nosuch" in str(err.value)


def test_default_db_path_and_open_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    monkeypatch.delenv("TRAILHOUND_DB", raising=False)
    assert default_db_path() == DEFAULT_DB == Path(".trailhound") / "events.duckdb"
    monkeypatch.setenv("TRAILHOUND_DB", str(db))
    assert default_db_path() == db
    store = open_store("local", read_only=True)
    assert isinstance(store, LocalStore) and store.path == str(db)
    assert store.query("SELECT count(*) AS n FROM $EDS_ID").rows == [{"n": len(RECORDS)}]
    store.close()
    other = open_store(f"local:{db}", read_only=True)
    assert isinstance(other, LocalStore) and other.path == str(db)
    other.close()


def test_in_memory_store_for_tests_and_fixtures() -> None:
    with LocalStore(":memory:") as s:
        s.ingest([SAMPLE])
        assert s.name == "local::memory:"
        assert s.query("SELECT count(DISTINCT eventSource) AS n FROM $EDS_ID").rows == [
            {"n": len({r["eventSource"] for r in RECORDS})}]
