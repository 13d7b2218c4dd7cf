"""``trailhound query``: run CloudTrail Lake SQL (``$EDS_ID`` as the table) on an event store."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from trailhound.commands._common import add_format, add_store, parse_time
from trailhound.errors import UserInputError
from trailhound.output import print_rows
from trailhound.store import open_store

# Placeholders whose values are times (ISO-8601 or a duration ago such as 24h), not text.
TIME_PARAMS = ("START_TIME", "END_TIME")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="run CloudTrail Lake SQL against the event store",
                       description="SQL is CloudTrail Lake's dialect (Trino) with $EDS_ID as the table. "
                                   "Values go in as $NAME placeholders with --param NAME=VALUE, never "
                                   "pasted into the SQL text.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("sql", nargs="?", help="the SQL text")
    src.add_argument("-f", "--file", metavar="FILE.sql", help="read the SQL from a file")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="value for a $NAME placeholder (repeatable); START_TIME and END_TIME take an "
                        "ISO-8601 time or a duration ago (24h, 7d)")
    add_store(p)
    add_format(p)
    p.set_defaults(func=run)


def parse_params(items: list[str], now: dt.datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not name:
            raise UserInputError(f"--param {item!r}: expected NAME=VALUE")
        out[name] = parse_time(value, name=f"--param {name}", now=now) if name.upper() in TIME_PARAMS else value
    return out


def run(args: argparse.Namespace) -> int:
    if args.file:
        try:
            sql = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserInputError(f"{args.file}: cannot read ({exc.strerror})") from exc
    else:
        sql = args.sql
    if not sql or not sql.strip():
        raise UserInputError("no SQL given: pass the SQL text or -f FILE.sql")
    params = parse_params(args.param)
    store = open_store(args.store, db=args.db, read_only=True)
    try:
        result = store.query(sql, params)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    print_rows(result.rows, result.columns, fmt=args.format)
    return 0
