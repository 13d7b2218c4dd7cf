"""``trailhound ingest PATH...``: load CloudTrail files into the local store."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from trailhound.commands._common import add_db, add_format
from trailhound.errors import UserInputError
from trailhound.output import print_json

if TYPE_CHECKING:
    from trailhound.store.ingest import IngestSummary

# Rejects listed on stderr in text mode; the --rejects report always has them all.
SHOWN_REJECTS = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest", help="load CloudTrail files into the local event store (exactly once per eventID)",
        description="Load CloudTrail S3 delivery files ({\"Records\": [...]}, .json or .json.gz), JSON Lines "
                    "of records, or `aws cloudtrail lookup-events` output. Directories are searched "
                    "recursively. Exit status: 0 all loaded, 1 something was rejected, 2 usage error.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_db(p)
    add_format(p, ("text", "json"), "text")
    p.add_argument("--rejects", metavar="FILE",
                   help="write the rejects report here (JSON list of {file, record, reason})")
    p.set_defaults(func=run)


@contextmanager
def progress_bar(stream: TextIO) -> Iterator[Callable[[int, int], None] | None]:
    """A files-done bar on a terminal; nothing otherwise (pipes, CI logs, --format json)."""
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                  TimeElapsedColumn(), console=Console(file=stream), transient=True) as bar:
        task = bar.add_task("ingest", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def write_rejects(path: str, summary: IngestSummary) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump([r.as_dict() for r in summary.rejects], fh, indent=2)
            fh.write("\n")
    except OSError as exc:
        raise UserInputError(f"--rejects {path}: cannot write ({exc.strerror})") from exc


def run(args: argparse.Namespace) -> int:
    from trailhound.store.inputs import Prefetch

    # The files are found and the first batch inflated while DuckDB is imported and the store
    # opened (~0.25 s on one core otherwise); a missing path is reported before a store is made.
    with Prefetch(args.paths) as inputs:
        from trailhound.store.local import LocalStore

        with LocalStore(args.db) as store:
            stream = sys.stderr
            with progress_bar(stream) if args.format == "text" else _no_bar() as progress:
                summary = store.ingest(inputs, progress=progress)
            path = store.path
    if args.rejects:
        write_rejects(args.rejects, summary)
    if args.format == "json":
        print_json({"store": path, **summary.as_dict()})
    else:
        print(f"{summary.files} files, {summary.added} events added, {summary.duplicates} duplicates skipped, "
              f"{summary.rejected} records rejected  ({path})")
        for r in summary.rejects[:SHOWN_REJECTS]:
            print(f"rejected: {r}", file=sys.stderr)
        if len(summary.rejects) > SHOWN_REJECTS:
            more = len(summary.rejects) - SHOWN_REJECTS
            print(f"rejected: ... and {more} more" + (f" (all in {args.rejects})" if args.rejects else
                                                       " (use --rejects FILE for the full report)"),
                  file=sys.stderr)
    return 1 if summary.rejects else 0


@contextmanager
def _no_bar() -> Iterator[None]:
    yield None
