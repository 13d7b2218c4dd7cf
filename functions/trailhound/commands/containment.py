"""``trailhound contain``, ``trailhound containments`` and ``trailhound rollback``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from trailhound.errors import UserInputError
from trailhound.output import print_json, print_rows, to_jsonable

EPILOG_CONTAIN = """examples:
  trailhound contain --list
  trailhound contain deactivate_access_key --param user_name=alice --param access_key_id=AKIA...
  trailhound contain deactivate_access_key -p user_name=alice -p access_key_id=AKIA... --apply
AWS endpoints follow boto3's settings (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_IAM, ...)."""


def _aws_options(p: argparse.ArgumentParser, formats: Sequence[str] = ("table", "json")) -> None:
    p.add_argument("--format", choices=formats, default="table", help="output format (default: table)")
    p.add_argument("--records", metavar="FILE", default=None,
                   help="local containment records file (default: .trailhound/containments.json)")
    p.add_argument("--records-table", metavar="TABLE", default=None,
                   help="keep records in this DynamoDB table instead (default: env CONTAINMENT_TABLE if set)")
    p.add_argument("--region", default=None, help="AWS region (default: boto3's, e.g. AWS_DEFAULT_REGION)")
    p.add_argument("--profile", default=None, help="AWS named profile")
    p.add_argument("--account-id", default=None, help="the account id (default: from STS GetCallerIdentity)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "contain", help="plan or apply a containment action (dry run unless --apply)",
        description="Plan a containment action (read-only), or apply it with --apply. "
                    "Applied actions are recorded and can be rolled back.",
        epilog=EPILOG_CONTAIN, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="?", metavar="ACTION", help="action name (see --list)")
    p.add_argument("--list", action="store_true", help="list the actions, their parameters and IAM permissions")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="an action parameter (repeat for each)")
    p.add_argument("--apply", action="store_true", help="make the change (default: dry run, plan only)")
    p.add_argument("--finding-id", default=None, help="the finding this containment answers")
    p.add_argument("--protect", action="append", default=[], metavar="ARN_PATTERN",
                   help="extra protected-principal ARN pattern (besides TRAILHOUND_PROTECTED_PRINCIPALS)")
    _aws_options(p)
    p.set_defaults(func=cmd_contain)

    c = sub.add_parser("containments", help="list and show containment records")
    csub = c.add_subparsers(dest="containments_command", metavar="COMMAND")
    lp = csub.add_parser("list", help="containment records, newest first")
    lp.add_argument("--limit", type=int, default=None, help="show at most N records")
    _aws_options(lp, ("table", "json", "csv"))
    lp.set_defaults(func=cmd_list)
    sp = csub.add_parser("show", help="one containment record in full")
    sp.add_argument("containment_id", metavar="CONTAINMENT_ID")
    _aws_options(sp)
    sp.set_defaults(func=cmd_show)
    c.set_defaults(func=lambda args: _usage(c))

    r = sub.add_parser("rollback", help="restore what a containment changed, from its record")
    r.add_argument("containment_id", metavar="CONTAINMENT_ID", help="id from `trailhound containments list`")
    _aws_options(r)
    r.set_defaults(func=cmd_rollback)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserInputError(f"--param {pair!r}: expected KEY=VALUE, e.g. --param user_name=alice")
        if key in out:
            raise UserInputError(f"--param {key} given twice")
        out[key] = value
    return out


def _session(args: argparse.Namespace) -> Any:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound as exc:
        raise UserInputError(f"--profile {args.profile}: no such AWS profile") from exc


def _records(args: argparse.Namespace, session: Any | None = None) -> Any:
    from trailhound.containment.records import store_from_env

    if args.records_table and session is None:
        session = _session(args)
    return store_from_env(session, path=args.records, table_name=args.records_table)


def cmd_contain(args: argparse.Namespace) -> int:
    from trailhound.containment.registry import get_action, list_actions
    from trailhound.containment.runner import contain

    if args.list:
        return _print_actions([cls.describe() for cls in list_actions()], args.format)
    if not args.action:
        raise UserInputError("contain: name an ACTION, or use --list to see them")
    get_action(args.action)  # an unknown name fails here, before any AWS set-up
    params = parse_params(args.param)
    session = _session(args)
    result = contain(args.action, params, finding_id=args.finding_id, apply=args.apply, session=session,
                     records=_records(args, session), protected_patterns=args.protect, account_id=args.account_id)
    if args.format == "json":
        print_json(result)
    else:
        _print_contain(result)
    return 0


def _print_actions(actions: list[dict[str, Any]], fmt: str) -> int:
    if fmt == "json":
        print_json(actions)
        return 0
    for a in actions:
        params = " ".join(f"{p['name']}=..." if p["required"] else f"[{p['name']}=...]" for p in a["parameters"])
        print(f"{a['name']}  {params}")
        print(f"    {a['summary']}")
        if a["reversibility"] != "full":
            print(f"    rollback: {a['reversibility']} (see the plan)")
    print("\nparameters in [] are optional; `trailhound contain --list --format json` shows descriptions "
          "and IAM permissions")
    return 0


def _lines(title: str, items: Sequence[str]) -> None:
    if items:
        print(f"{title}:")
        for item in items:
            print(f"  - {item}")


def _print_contain(result: dict[str, Any]) -> None:
    plan = result["plan"]
    status = result["status"]
    if status == "planned":
        print(f"DRY RUN {result['action']}: nothing was changed (add --apply to apply)")
    else:
        print(f"{status.upper().replace('_', ' ')} {result['action']}: containment {result['containment_id']}")
    _lines("targets", plan.get("targets", []))
    if status == "planned":
        if plan.get("already_contained"):
            print("already contained: apply would change nothing")
        _lines("would change", plan.get("changes", []))
        _lines("cannot be undone by rollback", plan.get("irreversible", []))
    else:
        res = result.get("result", {})
        _lines("changed", res.get("changes", []))
        if res.get("message"):
            print(res["message"])
        if status == "applied":
            print(f"roll back with: trailhound rollback {result['containment_id']}")
    _lines("notes", plan.get("notes", []))


def cmd_list(args: argparse.Namespace) -> int:
    records = _records(args).list()
    if args.limit is not None:
        records = records[: max(args.limit, 0)]
    rows = [r.summary() for r in records]
    cols = ["id", "created_at", "action", "status", "finding_id", "target", "rolled_back_at"]
    if args.format == "json":
        print_json([to_jsonable(r) for r in rows])
    else:
        print_rows(rows, cols, fmt=args.format, title="containments (newest first)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    record = _records(args).get(args.containment_id)
    data = record.model_dump(mode="json")
    if args.format == "json":
        print_json(data)
    else:
        rows = [{"field": k, "value": v} for k, v in data.items()]
        print_rows(rows, ["field", "value"], title=f"containment {record.id}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from trailhound.containment.runner import rollback_containment

    session = _session(args)
    result = rollback_containment(args.containment_id, session=session, records=_records(args, session),
                                  account_id=args.account_id)
    if args.format == "json":
        print_json(result)
        return 0
    res = result["result"]
    print(f"{result['status'].upper().replace('_', ' ')} {result['action']}: containment {result['containment_id']}")
    _lines("changed", res.get("changes", []))
    if res.get("message"):
        print(res["message"])
    if result.get("secret"):
        print(f"temporary password (shown once, not stored): {result['secret']}")
    return 0
