"""``trailhound investigate`` / ``approve`` / ``reject`` / ``investigations list``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailhound.commands._common import add_format, add_store
from trailhound.errors import UserInputError
from trailhound.output import print_json, print_rows

if TYPE_CHECKING:
    from trailhound.findings import Finding

STATE_DIR = Path(".trailhound")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("investigate", help="run the investigation workflow on findings, locally",
                       description="Runs the same workflow definition as the deployed state machine: enrich, "
                                   "decide, (approval), contain, verify, notify. Containment is a dry run "
                                   "unless --apply.")
    p.add_argument("--finding-file", required=True, metavar="FILE",
                   help="a finding or a list of findings as `trailhound detect --format json` prints them")
    add_store(p)
    p.add_argument("--apply", action="store_true", help="really contain (after approval where the policy asks)")
    p.add_argument("--yes", action="store_true", help="approve every containment the policy sends for approval")
    p.add_argument("--records", metavar="FILE", default=None, help="containment records (default .trailhound/containments.json)")
    p.add_argument("--investigations", metavar="FILE", default=None,
                   help="investigation records (default .trailhound/investigations.json)")
    add_format(p, ("table", "json"))
    p.set_defaults(func=run_investigate)
    for verb, approved in (("approve", True), ("reject", False)):
        a = sub.add_parser(verb, help=f"{verb} a containment waiting for approval")
        a.add_argument("investigation_id", metavar="INVESTIGATION_ID")
        add_store(a)
        a.add_argument("--records", metavar="FILE", default=None)
        a.add_argument("--investigations", metavar="FILE", default=None,
                       help="local records file; with INVESTIGATIONS_TABLE set, the DynamoDB table is used")
        a.add_argument("--by", default=None, help="who answers (default: $USER)")
        add_format(a, ("table", "json"))
        a.set_defaults(func=run_answer, approved=approved)
    ls = sub.add_parser("investigations", help="investigation records")
    lsub = ls.add_subparsers(dest="investigations_command", metavar="COMMAND", required=True)
    lp = lsub.add_parser("list", help="investigations, newest first")
    lp.add_argument("--investigations", metavar="FILE", default=None)
    add_format(lp, ("table", "json"))
    lp.set_defaults(func=run_list)


def read_findings(path: str) -> list[Finding]:
    from pydantic import ValidationError

    from trailhound.findings import Finding

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    items = data if isinstance(data, list) else [data]
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Finding.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "finding"
            raise UserInputError(f"{path}: finding {i}: field {where}: {err['msg']}") from None
    return out


def _investigation_store(path: str | None) -> Any:
    import os

    from trailhound.investigation.records import DynamoDBInvestigationStore, JsonFileInvestigationStore

    if path is None and os.environ.get("INVESTIGATIONS_TABLE"):
        import boto3

        return DynamoDBInvestigationStore(boto3.client("dynamodb"), os.environ["INVESTIGATIONS_TABLE"])
    return JsonFileInvestigationStore(path or STATE_DIR / "investigations.json")


def local_context(args: argparse.Namespace, *, apply: bool) -> Any:
    import boto3

    from trailhound.config import load_settings
    from trailhound.containment.records import JsonFileRecordStore
    from trailhound.investigation.policy import ContainmentMode, Policy
    from trailhound.investigation.steps import StepContext
    from trailhound.store import open_store

    settings = load_settings()
    mode = ContainmentMode(settings.containment_mode)
    if not apply:
        mode = ContainmentMode.DRY_RUN
    elif mode is ContainmentMode.DRY_RUN:
        mode = ContainmentMode.APPROVAL
    notes: list[dict[str, Any]] = []
    return StepContext(
        store=open_store(args.store, db=args.db, read_only=True),
        session=boto3.Session(),
        containment_records=JsonFileRecordStore(args.records or STATE_DIR / "containments.json"),
        investigations=_investigation_store(args.investigations),
        policy=Policy(mode=mode, protected_patterns=settings.protected_principals, verify_wait_seconds=0),
        notify=lambda kind, body: notes.append({"kind": kind, **body}),
    )


def _terminal_approver(auto_yes: bool) -> Any:
    def approver(payload: dict[str, Any]) -> bool | None:
        if auto_yes:
            return True
        if not sys.stdin.isatty():
            return None  # nobody to ask: the investigation waits (needs_approval)
        d = payload.get("decision", {})
        answer = input(f"Approve {d.get('action')} {json.dumps(d.get('params'))}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return approver


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    f = record.get("finding") or {}
    return {"investigation_id": record.get("investigation_id"), "detection": f.get("detection_id"),
            "severity": f.get("severity"), "actor": f.get("actor_arn"), "disposition": record.get("disposition"),
            "outcome": record.get("outcome"), "containment_id": record.get("containment_id"),
            "reason": record.get("reason")}


def run_investigate(args: argparse.Namespace) -> int:
    from trailhound.investigation.local import run_investigation

    findings = read_findings(args.finding_file)
    ctx = local_context(args, apply=args.apply)
    approver = _terminal_approver(args.yes)
    records = [run_investigation(ctx, f, approver=approver) for f in findings]
    if args.format == "json":
        print_json(records if isinstance(json.loads(Path(args.finding_file).read_text()), list) else records[0])
    else:
        print_rows([_summary(r) for r in records], ["investigation_id", "detection", "severity", "actor",
                                                     "disposition", "outcome", "containment_id"], fmt="table")
    return 0


def run_answer(args: argparse.Namespace) -> int:
    import getpass

    from trailhound.investigation.approval import answer
    from trailhound.investigation.local import resume

    investigations = _investigation_store(args.investigations)
    by = args.by or getpass.getuser()

    def resume_local(inv_id: str, *, approved: bool, by: str) -> dict[str, Any]:
        ctx = local_context(args, apply=True)
        return resume(ctx, inv_id, approved=approved, by=by)

    sfn = None
    record = investigations.get(args.investigation_id)
    if not record.get("local_resume"):
        import boto3

        sfn = boto3.client("stepfunctions")
    result = answer(args.investigation_id, approved=args.approved, by=by, investigations=investigations,
                    sfn_client=sfn, resume_local=resume_local)
    if args.format == "json":
        print_json(result)
    else:
        print(f"{args.investigation_id}: {'approved' if args.approved else 'rejected'} by {by}; "
              f"outcome: {result.get('outcome', result.get('status'))}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    rows = [_summary(r) | {"started_at": r.get("started_at"), "status": r.get("status")}
            for r in _investigation_store(args.investigations).list()]
    print_rows(rows, ["investigation_id", "started_at", "detection", "severity", "status", "outcome", "actor"],
               fmt=args.format)
    return 0
