"""Each playbook runs top to bottom on a real recording given only store, start and end, and
draws its charts (static PNG outputs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"

PLAYBOOKS = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
# What each playbook must find in the recording when it picks its own subject.
EXPECTED_SUBJECT = {
    "compromised_credentials": "user/svc-reporting",
    "compromised_instance": "instance_id",
    "tampering_and_exposure": "PutBucketPolicy",
    "open_finding": "Opened:",
}


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def execute(src: Path, out: Path, parameters: dict[str, Any], kernel: str, cwd: Path) -> Any:
    import papermill

    papermill.execute_notebook(str(src), str(out), parameters=parameters, kernel_name=kernel, cwd=str(cwd),
                               progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                               execution_timeout=300)
    return nbformat.read(str(out), as_version=4)


def outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def text_of(nb: Any) -> str:
    parts = []
    for o in outputs(nb):
        data = o.get("data", {})
        parts.append(str(data.get("text/markdown", "")) + str(data.get("text/plain", "")) + str(o.get("text", "")))
    return "\n".join(parts)


def test_there_are_four_playbooks() -> None:
    assert PLAYBOOKS == sorted(EXPECTED_SUBJECT)


@pytest.mark.slow
@pytest.mark.parametrize("name", PLAYBOOKS)
def test_playbook_runs_on_recording_with_only_store_and_window(name: str, recording: Any, kernel_name: str,
                                                               tmp_path: Path) -> None:
    nb = execute(NOTEBOOKS_DIR / f"{name}.ipynb", tmp_path / f"{name}.ipynb",
                 {"store": recording.store, "start": iso(recording.start), "end": iso(recording.end)},
                 kernel_name, tmp_path)
    errors = [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert not errors, errors
    images = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
    assert images, f"{name} drew no chart"
    text = text_of(nb)
    assert EXPECTED_SUBJECT[name] in text
    # Containment is planned against the seeded endpoint and never applied without the flag.
    assert "dry run: nothing was changed" in text
    assert "**applied**" not in text
    if name != "open_finding":
        assert "**planned**" in text, "the containment plan did not compute against the local endpoint"
    assert not list(tmp_path.glob(".trailhound/containments.json")), "a dry run wrote a containment record"
