"""The playbook SQL gives the same rows Lake-shaped and through the Athena rewrite (on an
Athena-shaped DuckDB table), over a simulated incident with the tampering and exposure fixtures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from trailhound.detections.model import sql_dir
from trailhound.sql.params import placeholders
from trailhound.store.local import LocalStore


def deterministic(con: Any) -> None:
    """One thread, insertion order kept: ties of max_by/arbitrary resolve alike on both tables."""
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = true")


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(sorted((_norm(v) for v in value), key=repr))
    return round(value, 9) if isinstance(value, float) else value


def canonical(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    return sorted((tuple(sorted((k.lower(), _norm(v)) for k, v in r.items())) for r in rows), key=repr)


def assert_same(sql: str, params: dict[str, Any], lake: Any, athena: Any, what: str) -> int:
    expected = lake.query(sql, params)
    got = athena.query(sql, params)
    assert [c.lower() for c in got.columns] == [c.lower() for c in expected.columns], what
    assert canonical(got.rows) == canonical(expected.rows), (
        f"{what}: Athena rewrite returned different rows\n{athena.athena_sql(sql, params)}")
    return len(expected.rows)

START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
QUERIES = sorted((sql_dir() / "playbooks").glob("*.sql"))


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from trailhound.simulate.scenarios import simulate
    from trailhound.store.athena_local import AthenaLocalStore

    sim = simulate(["compromised-iam-user", "compromised-ec2-instance", "exfiltration.s3-backdoor-bucket-policy"],
                   tmp_path_factory.mktemp("parity") / "ct", seed=5, benign=200, start=START)
    lake = LocalStore(":memory:")
    lake.ingest(sim.files)
    deterministic(lake.con)
    athena = AthenaLocalStore(delivery_delay=dt.timedelta(minutes=5), delivery_slack=dt.timedelta(days=1))
    athena.ingest([str(p) for p in sim.files])
    deterministic(athena.con)
    return lake, athena, sim


def test_there_are_playbook_queries() -> None:
    assert len(QUERIES) >= 8


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_playbook_query_same_rows_on_athena(path: Path, stores: Any) -> None:
    lake, athena, sim = stores
    res = sim.resources
    session = f"arn:aws:sts::111122223333:assumed-role/{res.role_name}/{res.instance_id}"
    user = f"arn:aws:iam::111122223333:user/{res.user_name}"  # the leaked key's user created a key
    event_ids = [r[0] for r in lake.con.execute("SELECT eventID FROM events ORDER BY eventTime LIMIT 5").fetchall()]
    values: dict[str, Any] = {"START_TIME": sim.start, "END_TIME": sim.end, "ACTOR_ARN": user if path.stem == "created_keys" else session,
                              "ACCESS_KEY_ID": "none", "HOME_IP": res.instance_ip, "RESOURCE": res.trail_name,
                              "EVENT_IDS": event_ids}
    sql = path.read_text(encoding="utf-8")
    names = placeholders(sql) - {"EDS_ID"}
    assert names <= set(values), f"{path.name}: parameters {sorted(names - set(values))} not covered by this test"
    rows = assert_same(sql, {n: values[n] for n in names}, lake, athena, path.stem)
    assert rows > 0, f"{path.stem} returned nothing on the simulated incident: the test proves little"
