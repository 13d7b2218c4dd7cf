"""Write a playbook filled in for one finding: what ``trailhound notebook ID`` does.

The playbook is the finding's ``response.runbook`` (else ``open_finding``). Its parameters are
filled the way papermill fills them: a cell tagged ``injected-parameters`` right after the cell
tagged ``parameters`` (replacing an earlier injected cell), so ``papermill`` can run the copy
again with other values. Only parameters the playbook declares are written.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trailhound.errors import UserInputError
from trailhound.findings import Finding
from trailhound.playbooks.approvals import Located, finding_window
from trailhound.playbooks.pickers import instance_of

PLAYBOOKS = ("compromised_credentials", "compromised_instance", "tampering_and_exposure", "open_finding")
DEFAULT_PLAYBOOK = "open_finding"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
OUT_DIR = Path(".trailhound/notebooks")


def notebooks_dir() -> Path:
    """``$TRAILHOUND_NOTEBOOKS_DIR``, else the repository's (or the notebook bundle's) ``notebooks/``
    beside ``functions/``."""
    env = os.environ.get("TRAILHOUND_NOTEBOOKS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "notebooks"


def playbook_for(finding: Finding) -> str:
    """The playbook named by the finding's runbook when it exists, else ``open_finding``."""
    runbook = finding.response.runbook or ""
    stem = Path(runbook).stem if runbook.endswith(".ipynb") else ""
    if stem and (notebooks_dir() / f"{stem}.ipynb").is_file():
        return stem
    return DEFAULT_PLAYBOOK


def store_spec(spec: str | None = None, db: str | None = None) -> str:
    """The store as the notebook should open it; a local store becomes an absolute path, so the
    filled copy works from any directory."""
    from trailhound.store.local import default_db_path

    spec = spec or os.environ.get("TRAILHOUND_STORE") or "local"
    kind, _, rest = spec.partition(":")
    if kind != "local":
        return spec
    return "local:" + str(Path(rest or db or default_db_path()).expanduser().resolve())


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _first(*values: Any) -> str:
    return next((str(v) for v in values if isinstance(v, str) and v), "")


def subject_parameters(playbook: str, finding: Finding) -> dict[str, Any]:
    """The subject parameters of ``playbook`` for ``finding``."""
    params = finding.response.params
    extra = finding.extra
    if playbook == "compromised_credentials":
        return {"actor_arn": finding.actor_arn or "", "access_key_id": finding.access_key_id or ""}
    if playbook == "compromised_instance":
        return {"instance_id": _first(params.get("instance_id"), extra.get("instance_id"),
                                      instance_of(finding.actor_arn), instance_of(finding.target))}
    if playbook == "tampering_and_exposure":
        return {"resource": _first(params.get("trail"), params.get("trail_name"), params.get("bucket"),
                                   params.get("bucket_name"), params.get("resource_id"), extra.get("resource_id"),
                                   extra.get("bucket_name"), finding.target)}
    return {}


def parameters_for(located: Located, playbook: str, *, store: str, investigations: str | None = None,
                   findings_file: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    f = located.finding
    start, end = finding_window(f, now)
    values: dict[str, Any] = {"store": store, "start": _iso(start), "end": _iso(end), "finding_id": f.id,
                              "investigation_id": located.investigation_id or "",
                              **subject_parameters(playbook, f)}
    if investigations:
        values["investigations"] = str(Path(investigations).resolve())
    if findings_file:
        values["findings_file"] = str(Path(findings_file).resolve())
    return values


# --- the notebook JSON -----------------------------------------------------------------------

def read_notebook(path: Path) -> dict[str, Any]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read the playbook ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not a notebook ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise UserInputError(f"{path}: not a notebook (no cells)")
    return nb


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or [])


def parameters_cell(nb: Mapping[str, Any], where: str = "notebook") -> int:
    for i, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell):
            return i
    raise UserInputError(f"{where}: no code cell tagged {PARAMETERS_TAG!r}")


def declared_parameters(nb: Mapping[str, Any], where: str = "notebook") -> dict[str, Any]:
    """Names assigned in the ``parameters`` cell, with their default values."""
    cell = nb["cells"][parameters_cell(nb, where)]
    try:
        tree = ast.parse(_source(cell))
    except SyntaxError as exc:
        raise UserInputError(f"{where}: the parameters cell is not valid Python ({exc.msg})") from None
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                out[node.targets[0].id] = None
    return out


def fill(nb: Mapping[str, Any], values: Mapping[str, Any], *, where: str = "notebook",
         metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``nb`` with an ``injected-parameters`` cell for the declared names in ``values``."""
    out = copy.deepcopy(dict(nb))
    declared = declared_parameters(out, where)
    chosen = {k: v for k, v in values.items() if k in declared}
    out["cells"] = [c for c in out["cells"] if INJECTED_TAG not in _tags(c)]
    index = parameters_cell(out, where)
    lines = ["# Parameters (filled by `trailhound notebook`)"] + [f"{k} = {v!r}" for k, v in chosen.items()]
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "id": "injected-parameters",
            "metadata": {"tags": [INJECTED_TAG]}, "outputs": [],
            "source": "\n".join(lines) + "\n"}
    out["cells"].insert(index + 1, cell)
    meta = out.setdefault("metadata", {})
    meta.setdefault("papermill", {})["parameters"] = chosen
    if metadata:
        meta["trailhound"] = dict(metadata)
    return out


def write_filled(located: Located, *, store: str, out: str | os.PathLike[str] | None = None,
                 investigations: str | None = None, findings_file: str | None = None,
                 now: dt.datetime | None = None) -> tuple[Path, str, dict[str, Any]]:
    """Write the finding's playbook with its parameters; return (path, playbook, parameters)."""
    playbook = playbook_for(located.finding)
    src = notebooks_dir() / f"{playbook}.ipynb"
    nb = read_notebook(src)
    values = parameters_for(located, playbook, store=store, investigations=investigations,
                            findings_file=findings_file, now=now)
    filled = fill(nb, values, where=str(src), metadata={
        "playbook": playbook, "finding_id": located.finding.id, "investigation_id": located.investigation_id,
        "detection_id": located.finding.detection_id, "source": located.source})
    short = located.investigation_id or located.finding.id[:12]
    dest = Path(out) if out else OUT_DIR / f"{playbook}-{short}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_text(json.dumps(filled, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, dest)
    return dest, playbook, {k: v for k, v in values.items() if k in declared_parameters(nb, str(src))}
