"""``trailhound notebook ID``: write the playbook for a finding or investigation, filled in."""

from __future__ import annotations

import argparse

from trailhound.commands._common import add_format, add_store
from trailhound.output import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebook", help="write the playbook notebook for a finding or investigation, filled in",
        description="Looks ID up as an investigation id (or a finding id) in the investigation records, "
                    "else as a finding id (or a unique prefix of 8+ characters) in --findings-file, and "
                    "writes a copy of the finding's runbook playbook (else open_finding) with its papermill "
                    "parameters filled: store, start, end (a day before the finding to an hour after), "
                    "finding, investigation and subject. Run it in Jupyter, or with "
                    "`papermill FILE out.ipynb`.")
    p.add_argument("ident", metavar="FINDING_OR_INVESTIGATION_ID")
    p.add_argument("--out", metavar="FILE", default=None,
                   help="where to write (default .trailhound/notebooks/<playbook>-<id>.ipynb)")
    p.add_argument("--investigations", metavar="FILE", default=None,
                   help="investigation records (default: $INVESTIGATIONS_TABLE, else .trailhound/investigations.json)")
    p.add_argument("--findings-file", metavar="FILE", default=None,
                   help="findings as `trailhound detect --format json` prints them")
    add_store(p)
    add_format(p, ("table", "json"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trailhound.playbooks.approvals import investigation_store, locate
    from trailhound.playbooks.fill import store_spec, write_filled

    located = locate(args.ident, investigations=investigation_store(args.investigations),
                     findings_file=args.findings_file)
    path, playbook, values = write_filled(located, store=store_spec(args.store, args.db), out=args.out,
                                          investigations=args.investigations, findings_file=args.findings_file)
    if args.format == "json":
        print_json({"notebook": str(path), "playbook": playbook, "source": located.source, "parameters": values})
    else:
        print(f"{path}: {playbook} for {located.source}")
        for key, value in values.items():
            print(f"  {key} = {value!r}")
    return 0
