"""``trailhound detect`` and ``trailhound detections list|test|coverage``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from trailhound.commands._common import add_format, add_store, parse_time
from trailhound.errors import UserInputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="run detections over a time window and print findings",
                       description="Run the detection pack (or some of it) over [--since, --until) of the "
                                   "event store. Default window: the longest lookback of the selected "
                                   "detections, ending now.")
    p.add_argument("--since", metavar="T", help="window start: ISO-8601 time or a duration ago (90m, 24h, 7d)")
    p.add_argument("--until", metavar="T", help="window end, exclusive (default: now)")
    p.add_argument("--detection", action="append", metavar="ID", help="run only this detection (repeatable)")
    p.add_argument("--config", metavar="FILE", help="settings file (default: $TRAILHOUND_CONFIG or trailhound.yaml)")
    add_store(p)
    add_format(p, ("table", "json"))
    p.set_defaults(func=run_detect)

    d = sub.add_parser("detections", help="list, test and show the coverage of the detection pack")
    dsub = d.add_subparsers(dest="detections_command", metavar="SUBCOMMAND", required=True)

    ls = dsub.add_parser("list", help="the detections: id, title, severity, techniques, response")
    add_format(ls, ("table", "json", "csv"))
    ls.set_defaults(func=run_list)

    t = dsub.add_parser("test", help="run every fixture and the benign baseline; exit 1 on a failure")
    t.add_argument("--detection", action="append", metavar="ID", help="test only this detection (repeatable)")
    t.add_argument("--no-baseline", action="store_true", help="skip the benign baseline")
    add_format(t, ("text", "json"), "text")
    t.set_defaults(func=run_test)

    c = dsub.add_parser("coverage", help="Markdown table: attack technique → detections")
    add_format(c, ("markdown", "json"), "markdown")
    c.add_argument("--write", metavar="FILE", action="append", default=[],
                   help="replace the table between <!-- coverage:start --> and <!-- coverage:end --> in FILE "
                        "(repeatable) instead of printing it")
    c.set_defaults(func=run_coverage)


def _window(args: argparse.Namespace, lookback: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    until = parse_time(args.until, name="--until", now=now) if args.until else now
    since = parse_time(args.since, name="--since", now=now) if args.since else until - lookback
    if since >= until:
        raise UserInputError(f"--since {since.isoformat()} is not before --until {until.isoformat()}")
    return since, until


def run_detect(args: argparse.Namespace) -> int:
    from trailhound.config import load_settings
    from trailhound.detections.model import load_detections
    from trailhound.detections.runner import run_detections
    from trailhound.output import print_json, print_rows
    from trailhound.store import open_store

    detections = load_detections(ids=args.detection)
    if not detections:
        raise UserInputError("no detections to run")
    settings = load_settings(args.config)
    since, until = _window(args, max(d.header.lookback_delta for d in detections))
    store = open_store(args.store, db=args.db, read_only=True)
    findings = run_detections(store, detections, since, until, settings=settings)
    if args.format == "json":
        print_json([f.to_event_detail() for f in findings])
    else:
        rows = [{
            "severity": f.severity.value, "detection": f.detection_id, "first_seen": f.first_seen,
            "actor": f.actor_arn, "event": f.event_name, "target": f.target, "events": len(f.event_ids),
            "response": f.response.action or "", "fingerprint": f.fingerprint[:12],
        } for f in findings]
        print_rows(rows, ["severity", "detection", "first_seen", "actor", "event", "target", "events",
                          "response", "fingerprint"], fmt="table",
                   title=f"{len(findings)} finding(s), {len(detections)} detection(s), "
                         f"[{since:%Y-%m-%dT%H:%M:%SZ}, {until:%Y-%m-%dT%H:%M:%SZ})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from trailhound.detections.model import load_detections
    from trailhound.output import print_json, print_rows

    detections = load_detections()
    if args.format == "json":
        print_json([d.summary() for d in detections])
        return 0
    rows = []
    for d in detections:
        s = d.summary()
        rows.append({**s, "techniques": ", ".join(s["techniques"]), "attack": ", ".join(s["attack"])})
    print_rows(rows, ["id", "title", "severity", "techniques", "response"], fmt=args.format,
               title=f"{len(detections)} detections")
    return 0


def run_test(args: argparse.Namespace) -> int:
    from trailhound.detections.model import load_detections
    from trailhound.detections.testing import evaluate_baseline, evaluate_fixtures
    from trailhound.output import print_json

    detections = load_detections(ids=args.detection)
    failed = 0
    report: list[dict[str, Any]] = []
    for det in detections:
        results = evaluate_fixtures(det)
        ok = all(r.passed for r in results)
        failed += not ok
        report.append({"detection": det.id, "passed": ok, "fixtures": [
            {"file": str(r.path), "kind": r.kind.value, "passed": r.passed, "message": r.message}
            for r in results]})
        if args.format == "text":
            print(f"{'PASS' if ok else 'FAIL'}  {det.id}  ({len(results)} fixtures)")
            for r in results:
                if not r.passed:
                    print(f"      {r.kind.value}: {r.path}: {r.message}")
    baseline_ok = True
    if not args.no_baseline:
        pack = load_detections() if args.detection else detections
        base = evaluate_baseline(pack)
        if base is None:
            if args.format == "text":
                print("SKIP  baseline  (no sql/fixtures/_baseline/*.json)")
        else:
            baseline_ok = base.passed
            report.append({"baseline": [str(p) for p in base.files], "passed": base.passed,
                           "accepted": len(base.accepted),
                           "unexpected": [f.to_event_detail() for f in base.unexpected],
                           "unused_accepted": [a.model_dump() for a in base.unused]})
            if args.format == "text":
                print(f"{'PASS' if base.passed else 'FAIL'}  baseline  ({len(base.files)} files, "
                      f"{len(base.accepted)} accepted finding(s))")
                for f in base.unexpected:
                    print(f"      unexpected: {f.detection_id}: {f.actor_arn} {f.event_name} {f.target}")
                for a in base.unused:
                    print(f"      note: accepted entry never raised: {a.detection} ({a.reason})")
    if args.format == "json":
        print_json(report)
    else:
        total = len(detections)
        print(f"{total - failed}/{total} detections pass" + ("" if baseline_ok else "; baseline FAILS"),
              file=sys.stderr)
    return 1 if failed or not baseline_ok else 0


def run_coverage(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trailhound.detections.coverage import coverage, coverage_markdown, write_between_markers
    from trailhound.detections.model import load_detections
    from trailhound.output import print_json

    rows = coverage(load_detections())
    if args.write:
        for name in args.write:
            changed = write_between_markers(Path(name), coverage_markdown(rows))
            print(f"{name}: {'updated' if changed else 'already up to date'}")
        return 0
    if args.format == "json":
        print_json([{"technique": r.technique, "name": r.name, "detections": list(r.detections),
                     "uncovered_reason": r.uncovered_reason} for r in rows])
    else:
        sys.stdout.write(coverage_markdown(rows))
    return 0
