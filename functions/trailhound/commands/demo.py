"""``trailhound demo``: the whole incident on this machine, no AWS account needed."""

from __future__ import annotations

import argparse
from pathlib import Path

from trailhound.errors import UserInputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulate an incident and run detection, investigation, containment, report",
                       description="Simulates a compromised IAM user and a compromised EC2 instance among "
                                   "everyday activity, detects them on a schedule, investigates each finding "
                                   "through the workflow definition, contains against an in-process AWS "
                                   "emulator, verifies, and writes an HTML incident report.")
    p.add_argument("--out", metavar="DIR", default="demo-output", help="working directory (default demo-output)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--benign", type=int, default=800, metavar="N", help="benign background records")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import moto  # noqa: F401
    except ImportError:
        raise UserInputError("the demo needs the AWS emulator: pip install 'trailhound[demo]' (make demo does)") from None
    from trailhound.demo.run import run_demo

    result = run_demo(Path(args.out), seed=args.seed, benign=args.benign)
    s = result.summary()
    print(f"\n{s['events']} events, {s['cycles']} scheduler cycles, {s['findings']} findings, "
          f"{s['contained']} contained, {s['escalated']} escalated in {s['seconds']} s")
    print(f"report: {result.report.resolve()}")
    return 0
