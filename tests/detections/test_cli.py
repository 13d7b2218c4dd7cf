"""`trailhound detect` and `trailhound detections list|test|coverage`, end to end on a local store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trailhound.cli import main
from trailhound.detections.model import fixtures_dir, load_detections
from trailhound.detections.testing import FixtureKind, fixture_files

DET = load_detections(ids=["cloudtrail_logging_stopped"])[0]
POSITIVE = fixture_files(DET.id)[FixtureKind.POSITIVE][0]


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "events.duckdb")
    assert main(["ingest", str(POSITIVE), "--db", path]) == 0
    return path


def test_detect_json_lists_findings(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    records = json.loads(POSITIVE.read_text())["Records"]
    times = sorted(r["eventTime"] for r in records)
    capsys.readouterr()
    rc = main(["detect", "--db", db, "--since", times[0], "--until", "2100-01-01T00:00:00Z",
               "--detection", DET.id, "--format", "json"])
    assert rc == 0
    findings = json.loads(capsys.readouterr().out)
    assert findings and all(f["detection_id"] == DET.id for f in findings)
    assert set(findings[0]["event_ids"]) <= {r["eventID"] for r in records}
    for key in ("fingerprint", "severity", "first_seen", "actor_arn", "target", "response", "window"):
        assert key in findings[0]


def test_detect_default_window_ends_now(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["detect", "--db", db, "--detection", DET.id, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # fixture events are in the past


def test_detect_bad_time_and_unknown_detection(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", "--db", db, "--since", "yesterday-ish"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["detect", "--db", db, "--detection", "no_such_detection"]) == 2
    assert "no_such_detection" in capsys.readouterr().err


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detections", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == {d.id for d in load_detections()}
    assert {"id", "title", "severity", "techniques", "response"} <= set(rows[0])


def test_test_command_passes_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detections", "test", "--detection", DET.id, "--no-baseline"]) == 0
    assert f"PASS  {DET.id}" in capsys.readouterr().out
    # a copy of the sql dir where a positive fixture is swapped for a negative one must fail
    sql = tmp_path / "sql"
    (sql / "detections").mkdir(parents=True)
    (sql / "detections" / DET.path.name).write_text(DET.path.read_text())
    fx = sql / "fixtures" / DET.id
    fx.mkdir(parents=True)
    negative = fixture_files(DET.id)[FixtureKind.NEGATIVE][0]
    (fx / "positive_swapped.json").write_text(negative.read_text())
    (fx / "negative_kept.json").write_text(negative.read_text())
    monkeypatch.setenv("TRAILHOUND_SQL_DIR", str(sql))
    assert main(["detections", "test"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {DET.id}" in out and "positive_swapped.json" in out


def test_coverage_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detections", "coverage"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| technique | name | detections |")
    assert out.count("\n| `aws.") == 44
    for t in DET.header.techniques:
        assert f"`{t}`" in out and f"`{DET.id}`" in out
    assert fixtures_dir().is_dir()


def test_coverage_write_between_markers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "README.md"
    doc.write_text("# Title\n\n<!-- coverage:start -->\nold\n<!-- coverage:end -->\n\nafter\n")
    assert main(["detections", "coverage", "--write", str(doc)]) == 0
    text = doc.read_text()
    assert "old" not in text and text.startswith("# Title") and text.endswith("after\n")
    assert "| technique | name | detections |" in text
    assert main(["detections", "coverage", "--write", str(doc)]) == 0
    assert "already up to date" in capsys.readouterr().out
    (tmp_path / "none.md").write_text("no markers")
    assert main(["detections", "coverage", "--write", str(tmp_path / "none.md")]) == 2
