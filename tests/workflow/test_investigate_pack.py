"""Issue 7's bar: every finding the pack raises on recorded attacks investigates locally to a
record with a non-empty enrichment and a disposition (the definition run by the local runner)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from moto import mock_aws
from trailhound.cli import main
from trailhound.detections.model import fixtures_dir


@pytest.mark.slow
def test_every_finding_of_the_pack_investigates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    positives = sorted(fixtures_dir().glob("*/positive*.json"))
    assert len(positives) >= 60
    db = tmp_path / "events.duckdb"
    assert main(["ingest", *map(str, positives), "--db", str(db), "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["detect", "--since", "2020-01-01T00:00:00Z", "--until",
                 (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "--db", str(db), "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)
    detections = {f["detection_id"] for f in findings}
    assert len(detections) >= 60  # nearly every detection fires on its own positives
    (tmp_path / "findings.json").write_text(json.dumps(findings))
    with mock_aws():  # dry-run plans read an empty emulated account: they may fail, and say so
        assert main(["investigate", "--finding-file", "findings.json", "--db", str(db), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == len(findings)
    for rec in records:
        f = rec["finding"]
        assert rec["disposition"] in ("auto_contain", "needs_approval", "notify_only"), f["detection_id"]
        assert rec["enrichment"]["summary"]["events"] > 0, f["detection_id"]
        assert rec["steps"][0] == {"step": "enrich", "status": "ok"}
        assert rec["outcome"] != "contained"  # dry run: nothing is ever changed
    assert os.path.exists(tmp_path / ".trailhound" / "investigations.json")
