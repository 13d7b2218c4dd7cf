"""The main job: `trailhound demo` contains the simulated incident, verifies it, writes the report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from trailhound.cli import main

EXPECTED = {  # detection -> the containment its finding must end with
    "cloudtrail_logging_stopped": "restore_cloudtrail_logging",
    "access_denied_burst": "deactivate_access_key",
    "iam_access_key_created_for_other_user": "deactivate_access_key",
    "ec2_instance_credentials_used_outside_instance": "revoke_role_sessions",
    "ec2_instance_role_s3_exfiltration": "quarantine_instance",
}


@pytest.mark.slow
def test_demo_contains_verifies_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("AWS_", "MOTO_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # must not leak into the demo, nor be lost
    assert main(["demo", "--out", "out", "--benign", "300"]) == 0
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert "MOTO_ACCOUNT_ID" not in os.environ
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("report: ") and Path(last.removeprefix("report: ")).is_file()
    records = json.loads((tmp_path / "out" / "investigations.json").read_text())
    by_detection = {r["finding"]["detection_id"]: r for r in records.values()}
    for detection, action in EXPECTED.items():
        rec = by_detection[detection]
        assert rec["containment"]["action"] == action
        assert rec["outcome"] == "contained", (detection, rec["outcome"], rec.get("errors"))
        assert rec["verification"]["effect_confirmed"] is True
        assert rec["enrichment"]["summary"]["events"] > 0
    html = Path(last.removeprefix("report: ")).read_text()
    assert "Inactive" in html and "trailhound-isolation" in html  # the account changed, and says how
