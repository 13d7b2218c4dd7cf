"""Investigation records from a notebook: find a finding or investigation, list and answer
pending approvals (the same ``answer`` the CLI's ``approve`` / ``reject`` call)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailhound.errors import UserInputError
from trailhound.findings import Finding
from trailhound.investigation.records import InvestigationStore

if TYPE_CHECKING:
    import pandas as pd

    from trailhound.playbooks.query import Window
    from trailhound.store.base import EventStore

DEFAULT_RECORDS = Path(".trailhound/investigations.json")
PENDING = "pending_approval"
_MIN_PREFIX = 8


def investigation_store(path: str | os.PathLike[str] | None = None) -> InvestigationStore:
    """A records file when given; else the ``INVESTIGATIONS_TABLE`` DynamoDB table when that is set
    (the notebook instance in AWS); else ``.trailhound/investigations.json``."""
    from trailhound.investigation.records import DynamoDBInvestigationStore, JsonFileInvestigationStore

    if not path and os.environ.get("INVESTIGATIONS_TABLE"):
        import boto3

        return DynamoDBInvestigationStore(boto3.client("dynamodb"), os.environ["INVESTIGATIONS_TABLE"])
    return JsonFileInvestigationStore(path or DEFAULT_RECORDS)


# --- finding / investigation lookup ----------------------------------------------------------

@dataclass(frozen=True)
class Located:
    """A finding, the investigation it belongs to (if any), and where it was found."""

    finding: Finding
    investigation: dict[str, Any] | None
    source: str

    @property
    def investigation_id(self) -> str | None:
        return self.investigation.get("investigation_id") if self.investigation else None


def _matches(finding_id: str, wanted: str) -> bool:
    return finding_id == wanted or (len(wanted) >= _MIN_PREFIX and finding_id.startswith(wanted))


def _finding_of(record: dict[str, Any], where: str) -> Finding:
    from pydantic import ValidationError

    try:
        return Finding.model_validate(record["finding"])
    except (KeyError, TypeError, ValidationError) as exc:
        raise UserInputError(f"{where}: investigation {record.get('investigation_id')!r} has no valid "
                             f"finding ({type(exc).__name__})") from None


def locate(ident: str, *, investigations: InvestigationStore | None = None,
           findings_file: str | os.PathLike[str] | None = None) -> Located:
    """Look ``ident`` up as an investigation id, then as a finding id (or a unique prefix of at
    least 8 characters) in the investigation records, then in ``findings_file``."""
    ident = ident.strip()
    if not ident:
        raise UserInputError("no finding or investigation id given")
    where: list[str] = []
    if investigations is not None:
        label = _describe(investigations)
        where.append(label)
        try:
            record = investigations.get(ident)
        except UserInputError:
            record = None
        if record is not None:
            return Located(_finding_of(record, label), record, f"investigation {ident} in {label}")
        hits = [r for r in investigations.list() if _matches(str((r.get("finding") or {}).get("id", "")), ident)]
        if hits:
            record = hits[0]  # newest first
            return Located(_finding_of(record, label), record,
                           f"finding of investigation {record.get('investigation_id')} in {label}")
    if findings_file:
        from trailhound.commands.investigation import read_findings

        where.append(str(findings_file))
        found = [f for f in read_findings(str(findings_file)) if _matches(f.id, ident)]
        if len({f.id for f in found}) > 1:
            raise UserInputError(f"{findings_file}: {ident!r} is a prefix of {len(found)} findings; give more of it")
        if found:
            return Located(found[0], None, f"finding in {findings_file}")
    raise UserInputError(f"{ident!r}: no such investigation or finding in " + (", ".join(where) or "nothing")
                         + " (give --investigations FILE or --findings-file FILE)")


def _describe(store: InvestigationStore) -> str:
    path = getattr(store, "path", None)
    return str(path) if path is not None else f"table {getattr(store, 'table', '?')}"


# --- approvals -------------------------------------------------------------------------------

def pending(investigations: InvestigationStore) -> pd.DataFrame:
    """Investigations waiting for a person's approval, newest first."""
    import pandas as pd

    rows = []
    for r in investigations.list():
        if r.get("status") != PENDING:
            continue
        f = r.get("finding") or {}
        d = r.get("decision") or {}
        rows.append({"investigation_id": r.get("investigation_id"), "started_at": r.get("started_at"),
                     "detection": f.get("detection_id"), "severity": f.get("severity"),
                     "actor": f.get("actor_arn"), "action": d.get("action"), "params": d.get("params"),
                     "reason": d.get("reason") or r.get("reason")})
    columns = ["investigation_id", "started_at", "detection", "severity", "actor", "action", "params", "reason"]
    return pd.DataFrame(rows, columns=columns)


def answer(investigation_id: str, approved: bool, *, investigations: InvestigationStore, by: str | None = None,
           store: str | None = None, records: str | None = None, investigations_path: str | None = None,
           sfn_client: Any = None) -> dict[str, Any]:
    """Approve or reject a pending containment, as ``trailhound approve|reject`` does: a Step
    Functions task token is answered with ``SendTaskSuccess``; an investigation paused by the
    local runner is resumed here (``store``/``records`` as for the CLI)."""
    import argparse
    import getpass

    from trailhound.investigation.approval import answer as answer_approval

    by = by or os.environ.get("TRAILHOUND_ANALYST") or getpass.getuser()
    record = investigations.get(investigation_id)

    def resume_local(inv_id: str, *, approved: bool, by: str) -> dict[str, Any]:
        from trailhound.commands.investigation import local_context
        from trailhound.investigation.local import resume

        args = argparse.Namespace(store=store, db=None, records=records, investigations=investigations_path)
        ctx = local_context(args, apply=True)
        ctx.investigations = investigations
        return resume(ctx, inv_id, approved=approved, by=by)

    if sfn_client is None and not record.get("local_resume") and record.get("status") == PENDING:
        import boto3

        sfn_client = boto3.client("stepfunctions")
    return answer_approval(investigation_id, approved=approved, by=by, investigations=investigations,
                           sfn_client=sfn_client, resume_local=resume_local)


# --- open_finding's subject ------------------------------------------------------------------

def pick_finding(store: EventStore, win: Window, investigations: InvestigationStore | None) -> tuple[Located | None, str]:
    """When open_finding is given nothing: the newest investigation waiting for approval, else
    the most severe (then earliest) finding the detections raise over the window."""
    if investigations is not None:
        waiting = [r for r in investigations.list() if r.get("status") == PENDING]
        if waiting:
            record = waiting[0]
            label = _describe(investigations)
            return (Located(_finding_of(record, label), record, f"investigation {record['investigation_id']}"),
                    f"investigation {record['investigation_id']} is the newest of {len(waiting)} waiting for "
                    "approval: a person's answer is what it needs")
    from trailhound.detections.model import load_detections
    from trailhound.detections.runner import run_detections

    findings = run_detections(store, load_detections(), win.start, win.end)
    if not findings:
        return None, f"nothing is waiting for approval and no detection fires between {win}"
    top = findings[0]
    counts = f"{len(findings)} finding(s) in the window"
    return (Located(top, None, f"detections run over {win}"),
            f"nothing is waiting for approval; of {counts}, {top.detection_id} is the most severe "
            f"({top.severity.value}) and earliest, first seen {top.first_seen:%Y-%m-%d %H:%M:%SZ}")


def finding_window(finding: Finding, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The window a playbook opens a finding with: the enrichment window (a day before the
    finding to an hour after it)."""
    from trailhound.investigation.enrich import enrichment_window

    return enrichment_window(finding, now)
