"""``trailhound query``: run CloudTrail Lake SQL (``$EDS_ID`` as the table) on an event store."""

from __future__ import annotations

import argparse
from pathlib import Path

from trailhound.commands._common import add_format, add_store
from trailhound.errors import UserInputError
from trailhound.output import print_rows
from trailhound.store import open_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="run CloudTrail Lake SQL against the event store",
                       description="SQL is CloudTrail Lake's dialect (Trino) with $EDS_ID as the table.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("sql", nargs="?", help="the SQL text")
    src.add_argument("-f", "--file", metavar="FILE.sql", help="read the SQL from a file")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="value for a $NAME placeholder (repeatable)")
    add_store(p)
    add_format(p)
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserInputError(f"--param {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    if args.file:
        try:
            sql = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserInputError(f"{args.file}: cannot read ({exc.strerror})") from exc
    else:
        sql = args.sql
    store = open_store(args.store, db=args.db, read_only=True)
    result = store.query(sql, parse_params(args.param))
    print_rows(result.rows, result.columns, fmt=args.format)
    return 0
