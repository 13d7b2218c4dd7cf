"""``trailhound simulate``: CloudTrail delivery files for attack scenarios with benign background."""

from __future__ import annotations

import argparse
from pathlib import Path

from trailhound.commands._common import add_format, parse_time
from trailhound.output import print_json, print_rows


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="write CloudTrail files for attack scenarios mixed with benign activity")
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.add_argument("--out", metavar="DIR", default="simulated", help="output directory (default ./simulated)")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same files)")
    p.add_argument("--benign", type=int, default=500, metavar="N", help="benign background records (default 500)")
    p.add_argument("--start", metavar="T", help="start of the simulated period (default 2026-11-27T09:00:00Z)")
    add_format(p, ("table", "json"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trailhound.simulate.scenarios import all_scenarios, simulate

    if args.list:
        rows = [{"scenario": s.name, "techniques": ", ".join(s.techniques), "description": s.description}
                for s in all_scenarios().values()]
        print_rows(rows, ["scenario", "techniques", "description"], fmt=args.format)
        return 0
    start = parse_time(args.start, name="--start") if args.start else None
    result = simulate(args.scenarios, Path(args.out), seed=args.seed, benign=args.benign, start=start)
    if args.format == "json":
        print_json(result.as_dict() | {"out": str(args.out)})
    else:
        print(f"wrote {len(result.files)} delivery files, {result.records} records "
              f"({result.start:%Y-%m-%d %H:%M} to {result.end:%H:%M} UTC) to {args.out}")
    return 0
