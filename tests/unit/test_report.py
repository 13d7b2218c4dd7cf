"""The incident report escapes every value: log values are attacker-controlled."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from trailhound.demo.report import write_report

T = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)


def test_hostile_values_are_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    finding = {"detection_id": "d", "severity": "high", "actor_arn": evil, "source_ip": "1.2.3.4",
               "target": f"bucket{evil}", "first_seen": T, "last_seen": T, "event_ids": ["e"]}
    inv = {"investigation_id": "i", "finding": finding, "disposition": "auto_contain", "reason": evil,
           "containment": {"action": "a", "status": "applied", "params": {"k": evil}}, "containment_id": "c-1",
           "enrichment": {"summary": {"events": 1}, "tables": {"activity_summary": [{"service": evil, "events": 3}]}},
           "outcome": "contained"}
    path = write_report(tmp_path / "r.html", title="t", summary={"findings": 1},
                        timeline=[(T, 5, 2), (T + dt.timedelta(minutes=5), 1, 0)], findings=[finding],
                        investigations=[inv], before={"x": "a"}, after={"x": "b"})
    html = path.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "trailhound rollback c-1" in html
    assert html.count("<svg") >= 2  # the timeline and the actor's activity
