"""``trailhound ingest PATH...``: load CloudTrail files into the local store."""

from __future__ import annotations

import argparse
import sys

from trailhound.commands._common import add_db, add_format
from trailhound.output import print_json
from trailhound.store.local import LocalStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest", help="load CloudTrail files into the local event store (exactly once per eventID)",
        description="Load CloudTrail S3 delivery files ({\"Records\": [...]}, .json or .json.gz), JSON Lines "
                    "of records, or `aws cloudtrail lookup-events` output. Directories are searched recursively.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_db(p)
    add_format(p, ("text", "json"), "text")
    p.add_argument("--rejects", metavar="FILE", help="also write the rejected records report (JSON) here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with LocalStore(args.db) as store:
        if args.format == "text" and sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("ingesting", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summary = store.ingest(args.paths, progress=progress)
        else:
            summary = store.ingest(args.paths)
        path = store.path
    report = summary.as_dict()
    if args.rejects:
        import json

        with open(args.rejects, "w", encoding="utf-8") as fh:
            json.dump(report["rejects"], fh, indent=2)
    if args.format == "json":
        print_json({"store": path, **report})
    else:
        print(f"{summary.files} files, {summary.added} events added, {summary.duplicates} duplicates skipped, "
              f"{summary.rejected} records rejected  ({path})")
        for r in summary.rejects:
            print(f"rejected: {r}", file=sys.stderr)
    return 1 if summary.rejects else 0
