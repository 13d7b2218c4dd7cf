"""``trailhound run`` (one scheduler cycle), ``trailhound watch`` (cycles on the clock), ``trailhound cost``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from trailhound.commands._common import add_format, add_store, parse_duration, parse_time
from trailhound.errors import TrailHoundError, UserInputError


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "run", help="run one scheduler cycle (as if the clock read --now) and print the NEW findings",
        description="Run every due detection once over its scheduled window, record what was raised in the "
                    "state file, and print only the findings not raised before. Repeated runs never raise a "
                    "finding twice; a failed query is retried by the next run.")
    r.add_argument("--now", metavar="T", help="the clock for this cycle: ISO-8601 time (default: now)")
    _add_cycle_options(r)
    add_format(r, ("table", "json"))
    r.set_defaults(func=run_once)

    w = sub.add_parser("watch", help="run scheduler cycles on the real clock until stopped (Ctrl-C)",
                       description="Every --interval, run a cycle and print its new findings (JSON: one "
                                   "finding per line). The store is opened per cycle, so `trailhound ingest` "
                                   "can add files in between.")
    w.add_argument("--interval", default="5m", metavar="DURATION", help="time between cycles (default 5m)")
    w.add_argument("--cycles", type=int, default=None, metavar="N", help="stop after N cycles")
    _add_cycle_options(w)
    add_format(w, ("table", "json"))
    w.set_defaults(func=run_watch)

    c = sub.add_parser("cost", help="estimate queries and bytes scanned per day/month for the detection pack",
                       description="Estimate from the pack's schedules and windows, the events per day you give, "
                                   "and the stated bytes-per-event and published prices.")
    c.add_argument("--events-per-day", type=int, required=True, metavar="N", help="CloudTrail events per day")
    c.add_argument("--schedule", metavar="DURATION", help="run every detection this often (default: each its own)")
    c.add_argument("--engine", choices=("lake", "athena"), default="lake", help="event store engine (default lake)")
    c.add_argument("--bytes-per-event", type=int, metavar="B", help="bytes scanned per event (default per engine)")
    c.add_argument("--cycle", default="5m", metavar="DURATION",
                   help="how often the scheduler runs (late-event count per cycle; default 5m)")
    c.add_argument("--lateness", default="20m", metavar="DURATION", help="lateness allowance (default 20m)")
    c.add_argument("--late-check-horizon", default="6h", metavar="DURATION",
                   help="range of the per-cycle late-event count (0 disables; default 6h)")
    c.add_argument("--detection", action="append", metavar="ID", help="only this detection (repeatable)")
    add_format(c, ("table", "json"))
    c.set_defaults(func=run_cost)


def _add_cycle_options(p: argparse.ArgumentParser) -> None:
    add_store(p)
    p.add_argument("--state", metavar="FILE", help="scheduler state file (default: state.json beside the db)")
    p.add_argument("--detection", action="append", metavar="ID", help="schedule only this detection (repeatable)")
    p.add_argument("--config", metavar="FILE", help="settings file (default: $TRAILHOUND_CONFIG or trailhound.yaml)")
    p.add_argument("--lateness", default="20m", metavar="DURATION",
                   help="how far each window reaches back before the watermark (default 20m)")
    p.add_argument("--settle", default="5m", metavar="DURATION", help="never query the last DURATION (default 5m)")
    p.add_argument("--max-window", default="6h", metavar="DURATION",
                   help="longest step past the watermark per cycle when catching up (default 6h)")
    p.add_argument("--dedup-period", default="24h", metavar="DURATION",
                   help="a fingerprint is raised again only after this long without new evidence (default 24h)")
    p.add_argument("--late-check-horizon", default="6h", metavar="DURATION",
                   help="range of the per-cycle count of events delivered too late (0 disables; default 6h)")


def _duration(value: str, name: str, *, zero_ok: bool = False) -> dt.timedelta:
    if zero_ok and value.strip() in ("0", "0s", "0m"):
        return dt.timedelta(0)
    return parse_duration(value, name=name)


def _config(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from trailhound.scheduler.core import SchedulerConfig

    try:
        return SchedulerConfig(
            lateness=_duration(args.lateness, "--lateness", zero_ok=True),
            settle=_duration(args.settle, "--settle", zero_ok=True),
            max_window=_duration(args.max_window, "--max-window"),
            dedup_period=_duration(args.dedup_period, "--dedup-period", zero_ok=True),
            late_check_horizon=_duration(args.late_check_horizon, "--late-check-horizon", zero_ok=True))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = "--" + "-".join(str(p) for p in err["loc"]).replace("_", "-") if err["loc"] else "options"
        raise UserInputError(f"{field}: {str(err['msg']).removeprefix('Value error, ')}") from None


def _store_db(args: argparse.Namespace) -> str | None:
    spec = args.store or ""
    if spec.startswith("local:") and len(spec) > len("local:"):
        return spec[len("local:"):]
    return args.db


def _store_key(store: Any) -> str:
    path = getattr(store, "path", None)
    if path and path != ":memory:":
        return f"local:{Path(path).resolve()}"
    return str(store.name)


class _Cycle:
    """What ``run`` and ``watch`` share: detections, settings, state; the store is opened per cycle."""

    def __init__(self, args: argparse.Namespace):
        from trailhound.config import load_settings
        from trailhound.detections.model import load_detections
        from trailhound.scheduler.state import default_state_path

        self.args = args
        self.config = _config(args)
        self.detections = load_detections(ids=args.detection)
        if not self.detections:
            raise UserInputError("no detections to schedule")
        self.settings = load_settings(args.config)
        self.state_path = Path(args.state) if args.state else default_state_path(_store_db(args))

    def run(self, now: dt.datetime) -> Any:
        from trailhound.scheduler.cycle import run_cycle
        from trailhound.scheduler.state import LocalFileState
        from trailhound.store import open_store

        store = open_store(self.args.store, db=self.args.db, read_only=True)
        try:
            state = LocalFileState(self.state_path, store_name=_store_key(store), config=self.config)
            return run_cycle(store, self.detections, state, now=now, config=self.config, settings=self.settings)
        finally:
            close = getattr(store, "close", None)
            if callable(close):
                close()


def _summary_line(result: Any) -> str:
    s = result.summary()
    text = (f"cycle {s['now']}: {s['due']} due, {s['ok']} ok, {s['failed']} failed; "
            f"{s['new_findings']} new finding(s), {s['attached_events']} event(s) added to earlier findings; "
            f"{s['queries']} queries")
    if s["late_events"]:
        text += f"; {s['late_events']} event(s) delivered later than the allowance"
    if s["late_error"]:
        text += f"; late-event count failed ({s['late_error']})"
    return text


def _report_failures(result: Any) -> None:
    from trailhound.scheduler.core import RunStatus

    for r in result.runs:
        if r.status in (RunStatus.FAILED, RunStatus.CONFLICT):
            print(f"trailhound: {r.detection_id}: {r.status.value}: {r.error} "
                  "(its window is retried next cycle)", file=sys.stderr)
    if result.late and result.late.count:
        minutes = ", ".join(f"{k:%Y-%m-%dT%H:%MZ}={v}" for k, v in sorted(result.late.by_minute.items()))
        print(f"trailhound: late events (eventTime minute=count): {minutes}; "
              "check them with `trailhound detect --since ... --until ...`", file=sys.stderr)


def _print_table(findings: list[Any], title: str) -> None:
    from trailhound.output import print_rows

    rows = [{
        "severity": f.severity.value, "detection": f.detection_id, "first_seen": f.first_seen,
        "actor": f.actor_arn, "event": f.event_name, "target": f.target, "events": len(f.event_ids),
        "response": f.response.action or "", "fingerprint": f.fingerprint[:12],
    } for f in findings]
    print_rows(rows, ["severity", "detection", "first_seen", "actor", "event", "target", "events", "response",
                      "fingerprint"], fmt="table", title=title)


def run_once(args: argparse.Namespace) -> int:
    from trailhound.output import print_json
    from trailhound.scheduler.core import RunStatus

    now = parse_time(args.now, name="--now") if args.now else dt.datetime.now(dt.UTC)
    result = _Cycle(args).run(now)
    findings = result.new_findings
    if args.format == "json":
        print_json([f.to_event_detail() for f in findings])
    else:
        _print_table(findings, f"{len(findings)} new finding(s) at {now:%Y-%m-%dT%H:%M:%SZ}")
    print(_summary_line(result), file=sys.stderr)
    _report_failures(result)
    return 1 if result.count(RunStatus.FAILED) else 0


def run_watch(args: argparse.Namespace) -> int:
    interval = parse_duration(args.interval, name="--interval")
    cycle = _Cycle(args)
    done = 0
    try:
        while args.cycles is None or done < args.cycles:
            started = time.monotonic()
            now = dt.datetime.now(dt.UTC)
            try:
                result = cycle.run(now)
            except TrailHoundError as exc:  # e.g. the store is busy with an ingest: try again next tick
                print(f"trailhound: cycle {now:%Y-%m-%dT%H:%M:%SZ} skipped: {exc}", file=sys.stderr)
            else:
                if args.format == "json":
                    for f in result.new_findings:
                        sys.stdout.write(json.dumps(f.to_event_detail(), ensure_ascii=False) + "\n")
                elif result.new_findings:
                    _print_table(result.new_findings, f"{len(result.new_findings)} new finding(s) at "
                                                      f"{now:%Y-%m-%dT%H:%M:%SZ}")
                sys.stdout.flush()
                print(_summary_line(result), file=sys.stderr)
                _report_failures(result)
            done += 1
            if args.cycles is not None and done >= args.cycles:
                break
            time.sleep(max(0.0, interval.total_seconds() - (time.monotonic() - started)))
    except KeyboardInterrupt:
        print("trailhound: watch stopped", file=sys.stderr)
    return 0


def run_cost(args: argparse.Namespace) -> int:
    from trailhound.detections.model import load_detections
    from trailhound.output import print_json, print_rows
    from trailhound.scheduler.core import SchedulerConfig
    from trailhound.scheduler.cost import CostEngine, estimate

    if args.events_per_day < 0:
        raise UserInputError(f"--events-per-day {args.events_per_day}: expected a number of events >= 0")
    if args.bytes_per_event is not None and args.bytes_per_event <= 0:
        raise UserInputError(f"--bytes-per-event {args.bytes_per_event}: expected a positive number of bytes")
    detections = load_detections(ids=args.detection)
    config = SchedulerConfig(lateness=_duration(args.lateness, "--lateness", zero_ok=True),
                             late_check_horizon=_duration(args.late_check_horizon, "--late-check-horizon",
                                                          zero_ok=True))
    est = estimate(detections, events_per_day=args.events_per_day, engine=CostEngine(args.engine),
                   schedule=parse_duration(args.schedule, name="--schedule") if args.schedule else None,
                   cycle=parse_duration(args.cycle, name="--cycle"), bytes_per_event=args.bytes_per_event,
                   config=config)
    data = est.as_dict()
    if args.format == "json":
        print_json(data)
        return 0
    rows = data["detections"] + ([data["late_event_check"]] if data["late_event_check"] else [])
    print_rows(rows, ["detection", "schedule", "window", "queries_per_day", "gb_per_query", "gb_per_day"],
               fmt="table", title=f"{args.engine}: {args.events_per_day:,} events/day")
    print(f"queries: {data['queries_per_day']:,} per day, {data['queries_per_month']:,} per month")
    print(f"scanned: {data['gb_per_day']:,} GB per day, {data['gb_per_month']:,} GB per month")
    print(f"cost:    ${data['usd_per_day']:,.2f} per day, ${data['usd_per_month']:,.2f} per month")
    print("assumptions:")
    for a in data["assumptions"]:
        print(f"  - {a}")
    return 0
