"""The committed playbooks: outputs stripped, papermill parameters declared, no helper copied in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
SUBJECT = {"compromised_credentials": "actor_arn", "compromised_instance": "instance_id",
           "tampering_and_exposure": "resource", "open_finding": "finding_id"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_the_playbooks_exist() -> None:
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(SUBJECT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs_or_execution_counts(path: Path) -> None:
    nb = load(path)
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs or execution counts; clear them "
                       "(Jupyter: Edit > Clear Outputs of All Cells, or `jupyter nbconvert --clear-output "
                       "--inplace`) before committing")
    assert "papermill" not in nb.get("metadata", {}), f"{path.name}: executed-notebook metadata committed"
    assert not [c for c in code_cells(nb) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_declares_store_window_subject_and_apply_off(path: Path) -> None:
    import papermill

    params = papermill.inspect_notebook(str(path))
    for name in ("store", "start", "end", "apply", SUBJECT[path.stem]):
        assert name in params, f"{path.name}: parameter {name} missing (or its line does not parse for papermill)"
    assert params["apply"]["default"] == "False"
    assert params["store"]["default"] == '""'
    assert params[SUBJECT[path.stem]]["default"] == '""'
    tagged = [c for c in code_cells(load(path)) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_the_library_not_copied_helpers(path: Path) -> None:
    code = "\n".join(source(c) for c in code_cells(load(path)))
    assert "import trailhound.playbooks as pb" in code
    for banned in ("def ", "duckdb", "boto3.client(", "start_query", "SELECT ", "$EDS_ID"):
        assert banned not in code, f"{path.name}: {banned!r} in a cell; put queries and helpers in trailhound"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_apply_gates_every_containment(path: Path) -> None:
    code = "\n".join(source(c) for c in code_cells(load(path)))
    assert "pb.contain.plan(" in code
    assert code.count("pb.contain.apply(") == 1 and "apply=apply" in code
    assert "apply=True" not in code
