"""``trailhound notebook ID``: the finding's playbook, filled in, and it runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from trailhound.cli import main
from trailhound.output import to_jsonable

pytestmark = pytest.mark.slow  # the recording and a detection run over it


@pytest.fixture(scope="module")
def findings(recording: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], Path]:
    from trailhound.detections.model import load_detections
    from trailhound.detections.runner import run_detections
    from trailhound.store.local import LocalStore

    with LocalStore(recording.db, read_only=True) as store:
        found = run_detections(store, load_detections(), recording.start, recording.end)
    path = tmp_path_factory.mktemp("findings") / "findings.json"
    path.write_text(json.dumps([to_jsonable(f.model_dump()) for f in found]))
    return found, path


def injected(nb_path: Path) -> dict[str, Any]:
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1
    values: dict[str, Any] = {}
    exec("".join(cells[0]["source"]), {}, values)  # noqa: S102 - our own generated literals
    return values


def by_detection(found: list[Any], detection_id: str) -> Any:
    return next(f for f in found if f.detection_id == detection_id)


def test_finding_from_a_findings_file_gets_its_runbook_filled(findings: Any, recording: Any, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    found, path = findings
    f = by_detection(found, "ec2_instance_credentials_used_outside_instance")
    out = tmp_path / "nb.ipynb"
    assert main(["notebook", f.id[:12], "--findings-file", str(path), "--out", str(out), "--store", recording.store,
                 "--investigations", str(tmp_path / "none.json"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["playbook"] == "compromised_instance" and Path(report["notebook"]) == out
    values = injected(out)
    assert values["instance_id"] == recording.resources["instance_id"]
    assert values["store"] == recording.store and values["finding_id"] == f.id
    assert values["start"] < f.first_seen.strftime("%Y-%m-%dT%H:%M:%SZ") < values["end"]
    assert set(values) <= {"store", "start", "end", "instance_id", "finding_id", "investigation_id", "apply"}


def test_unknown_id_is_a_one_line_error(findings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, path = findings
    assert main(["notebook", "inv-nope", "--findings-file", str(path), "--investigations",
                 str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trailhound: error: 'inv-nope': no such investigation or finding") and "Traceback" not in err


@pytest.mark.slow
def test_investigation_opens_its_playbook_filled_in_and_it_runs(findings: Any, recording: Any, tmp_path: Path,
                                                                kernel_name: str) -> None:
    import papermill
    from trailhound.investigation.records import JsonFileInvestigationStore

    found, _ = findings
    f = by_detection(found, "iam_access_key_created_for_other_user")
    records = JsonFileInvestigationStore(tmp_path / "investigations.json")
    records.put({"investigation_id": "inv-20261127T101500-0001", "started_at": "2026-11-27T10:15:00Z",
                 "status": "pending_approval", "finding": f.to_event_detail(), "task_token": "token",
                 "decision": {"action": f.response.action, "params": f.response.params, "reason": "approval mode"}})
    out = tmp_path / "filled.ipynb"
    assert main(["notebook", "inv-20261127T101500-0001", "--investigations", str(records.path), "--out", str(out),
                 "--store", recording.store]) == 0
    values = injected(out)
    assert values["actor_arn"] == f.actor_arn and values["investigation_id"] == "inv-20261127T101500-0001"
    assert values["investigations"] == str(records.path.resolve())
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(str(out), str(executed), kernel_name=kernel_name, cwd=str(tmp_path),
                               progress_bar=False, request_save_on_cell_execute=False, execution_timeout=300)
    nb = nbformat.read(str(executed), as_version=4)
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outs)
    text = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for o in outs)
    assert "given as a parameter" in text  # the finding's actor, not a picked one
    assert "1 investigation(s) waiting for approval" in text and "inv-20261127T101500-0001" in text
