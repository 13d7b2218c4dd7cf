"""The simulator writes CloudTrail delivery files as CloudTrail does, deterministically."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from trailhound.cli import main
from trailhound.simulate.scenarios import all_scenarios, simulate
from trailhound.simulate.writer import delivered_by, delivery_time

START = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json.gz"))}


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        simulate(["compromised-iam-user"], tmp_path / name, seed=11, benign=50, start=START)
    simulate(["compromised-iam-user"], tmp_path / "c", seed=12, benign=50, start=START)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c")


def test_files_are_named_timed_and_shaped_like_cloudtrail_deliveries(tmp_path: Path) -> None:
    result = simulate(["compromised-ec2-instance"], tmp_path, seed=1, benign=100, start=START)
    assert result.files
    ids = set()
    for path in result.files:
        rel = path.relative_to(tmp_path).parts
        assert rel[:3] == ("AWSLogs", "111122223333", "CloudTrail")
        sent = delivery_time(path)
        assert sent is not None and sent.minute % 5 == 0
        records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
        for r in records:
            at = dt.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
            assert at < sent <= at + dt.timedelta(minutes=15)  # delivered minutes after the call
            assert r["awsRegion"] == rel[3]
            for field in ("eventVersion", "userIdentity", "eventSource", "eventName", "eventID", "requestID",
                          "sourceIPAddress", "userAgent", "recipientAccountId", "eventType"):
                assert field in r
            ids.add(r["eventID"])
    assert len(ids) == result.records  # event ids are unique
    assert delivered_by(result.files, START) == []
    assert delivered_by(result.files, result.end + dt.timedelta(hours=1)) == result.files


def test_attack_records_use_the_resources_given(tmp_path: Path) -> None:
    from trailhound.simulate.scenarios import Resources

    res = Resources(access_key_id="AKIAEXAMPLEKEY000001", backdoor_key_id="AKIAEXAMPLEKEY000002")
    simulate(["compromised-iam-user"], tmp_path, seed=1, benign=0, start=START, resources=res)
    text = "".join(gzip.decompress(p.read_bytes()).decode() for p in tmp_path.rglob("*.json.gz"))
    assert "AKIAEXAMPLEKEY000001" in text and "AKIAEXAMPLEKEY000002" in text


def test_every_listed_scenario_simulates(tmp_path: Path) -> None:
    names = sorted(all_scenarios())
    assert {"compromised-iam-user", "compromised-ec2-instance"} <= set(names)
    assert len(names) >= 40  # one per technique the pack covers, besides the two playbook scenarios
    result = simulate(names, tmp_path, seed=3, benign=0, start=START, spacing=dt.timedelta(minutes=2))
    assert result.records > 100


def test_unknown_scenario_is_one_line_listing_the_valid_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "no-such-thing", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no-such-thing" in err and "compromised-iam-user" in err
