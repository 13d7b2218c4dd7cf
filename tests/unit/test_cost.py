"""``trailhound cost``: queries and bytes per day from the pack's schedules, prices stated."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from trailhound.cli import main
from trailhound.detections.model import parse_detection
from trailhound.scheduler.core import SchedulerConfig
from trailhound.scheduler.cost import CostEngine, GiB, MiB, TiB, bytes_per_query, estimate

M = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
HEADER = """/*
id: {id}
title: A test detection
description: Something to estimate the cost of.
severity: low
schedule: {schedule}
lookback: {lookback}
dedup_key: [actor_arn]
runbook: notebooks/open_finding.ipynb
*/
SELECT ARRAY[eventID] AS event_ids FROM $EDS_ID WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
"""


def det(id_: str, schedule: str, lookback: str):
    return parse_detection(HEADER.format(id=id_, schedule=schedule, lookback=lookback), Path(f"{id_}.sql"))


def test_lake_scans_the_window_of_each_run():
    est = estimate([det("det_quarter", "15m", "1h"), det("det_daily", "1h", "1d")], events_per_day=1_000_000,
                   engine=CostEngine.LAKE, bytes_per_event=500,
                   config=SchedulerConfig(late_check_horizon=dt.timedelta(0)))
    quarter, daily = est.rows
    assert quarter.queries_per_day == 96 and quarter.window == dt.timedelta(hours=1)
    assert quarter.bytes_per_query == pytest.approx(1_000_000 * 500 / 24)
    assert daily.queries_per_day == 24 and daily.window == DAY  # max(1h + 20m, 1d)
    assert est.queries_per_day == 120
    assert est.bytes_per_day == pytest.approx(96 * 1_000_000 * 500 / 24 + 24 * 1_000_000 * 500)
    assert est.usd_per_day == pytest.approx(est.bytes_per_day / GiB * 0.005)
    assert est.late_check is None


def test_short_lookback_windows_still_overlap_by_the_lateness():
    est = estimate([det("det_short", "15m", "10m")], events_per_day=96_000, engine=CostEngine.LAKE,
                   config=SchedulerConfig(late_check_horizon=dt.timedelta(0)))
    assert est.rows[0].window == 35 * M


def test_athena_reads_whole_day_partitions_and_bills_at_least_10_mb():
    one = bytes_per_query(CostEngine.ATHENA, dt.timedelta(hours=1), 10_000_000, 200)
    assert one == pytest.approx(10_000_000 * 200 * (0.5 + 1 / 24))
    assert bytes_per_query(CostEngine.ATHENA, dt.timedelta(hours=1), 100, 200) == 10 * MiB
    est = estimate([det("det_quarter", "15m", "1h")], events_per_day=10_000_000, engine=CostEngine.ATHENA)
    assert est.price.per_byte == pytest.approx(5.0 / TiB)
    assert est.late_check is not None and est.late_check.queries_per_day == 288  # one per 5-minute cycle


def test_schedule_override_applies_to_every_detection():
    est = estimate([det("det_quarter", "15m", "1h"), det("det_daily", "1h", "1d")], events_per_day=1000,
                   engine=CostEngine.LAKE, schedule=5 * M)
    assert [r.queries_per_day for r in est.rows] == [288, 288]
    assert any("overridden to 5m" in a for a in est.assumptions)


def test_cost_command_states_prices_and_assumptions(capsys):
    assert main(["cost", "--events-per-day", "500000", "--engine", "athena", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"] == "athena" and "$5.00 per TB" in data["price"]
    assert data["queries_per_day"] > 0 and data["usd_per_month"] > 0
    assert any("bytes scanned per CloudTrail event" in a for a in data["assumptions"])
    assert main(["cost", "--events-per-day", "500000", "--schedule", "15m"]) == 0
    text = capsys.readouterr().out
    assert "$0.005 per GB" in text and "assumptions:" in text and "per month" in text


def test_cost_command_rejects_nonsense(capsys):
    assert main(["cost", "--events-per-day", "-5"]) == 2
    assert "--events-per-day -5" in capsys.readouterr().err
    assert main(["cost", "--events-per-day", "5", "--schedule", "often"]) == 2
    assert "--schedule 'often'" in capsys.readouterr().err
