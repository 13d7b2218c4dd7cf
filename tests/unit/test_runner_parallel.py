"""run_detections on the local store runs detections side by side on cursors: same findings as
one after another, the first failing detection (in the given order) named, cursors on the same
session time zone, the caller's store left open."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trailhound.config import Settings
from trailhound.detections.model import Detection, load_detection, load_detections
from trailhound.detections.runner import _local_cursors, run_detections
from trailhound.errors import SqlError
from trailhound.findings import Finding
from trailhound.store.local import LocalStore

os.environ["TZ"] = "UTC"
FIXTURES = Path(__file__).resolve().parents[2] / "sql" / "fixtures"
WINDOW = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def store() -> Iterator[LocalStore]:
    s = LocalStore(":memory:")
    s.ingest(sorted(FIXTURES.glob("*/positive_*.json")))
    yield s
    s.close()


def comparable(findings: list[Finding]) -> list[dict[str, Any]]:
    """Findings as data, with the evidence list sorted (array_agg order is the engine's)."""
    out = []
    for f in findings:
        d = f.model_dump(mode="json")
        d["event_ids"] = sorted(d["event_ids"])
        out.append(d)
    return sorted(out, key=lambda d: (d["detection_id"], d["fingerprint"]))


def test_side_by_side_gives_the_sequential_findings(store: LocalStore) -> None:
    detections = load_detections()
    settings = Settings()
    sequential = run_detections(store, detections, *WINDOW, settings=settings, workers=1)
    parallel = run_detections(store, detections, *WINDOW, settings=settings, workers=3)
    assert len({f.detection_id for f in sequential}) >= 40  # the fixtures exercise most of the pack
    assert comparable(parallel) == comparable(sequential)
    # still ordered by severity, highest first
    ranks = [f.severity.rank for f in parallel]
    assert ranks == sorted(ranks, reverse=True)
    # the caller's store is still open and usable
    assert store.count() > 0


def test_the_first_failing_detection_in_order_is_reported(store: LocalStore, tmp_path: Path) -> None:
    good = load_detections()[:3]
    base = next(d for d in load_detections() if d.header.threshold is None)
    bad: list[Detection] = []
    for name in ("aaa_broken_one", "aaa_broken_two"):
        path = tmp_path / f"{name}.sql"
        text = base.path.read_text()
        header = text[: text.index("*/") + 2].replace(f"id: {base.id}", f"id: {name}")
        path.write_text(header + "\nSELECT no_such_column AS event_ids FROM $EDS_ID "
                        "WHERE eventTime >= $START_TIME AND eventTime < $END_TIME")
        bad.append(load_detection(path))
    with pytest.raises(SqlError, match="detection aaa_broken_one"):
        run_detections(store, [*good, *bad], *WINDOW, settings=Settings(), workers=2)


def test_cursors_keep_the_session_time_zone(store: LocalStore) -> None:
    store.con.execute("SET TimeZone = 'America/New_York'")
    try:
        handles = _local_cursors(store, 2)
        try:
            assert len(handles) == 2
            for h in handles:
                row = h.con.execute("SELECT current_setting('TimeZone')").fetchone()
                assert row is not None and row[0] == "America/New_York"
        finally:
            for h in handles:
                h.close()
    finally:
        store.con.execute("SET TimeZone = 'UTC'")
    assert _local_cursors(store, 1) == []
