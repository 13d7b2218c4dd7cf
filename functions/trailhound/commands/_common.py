"""Options shared by the command groups: the local database, the store, output format, times."""

from __future__ import annotations

import argparse
import datetime as dt
import re

from trailhound.errors import UserInputError
from trailhound.output import FORMATS


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="FILE",
                        help="local event store (default: $TRAILHOUND_DB or .trailhound/events.duckdb)")


def add_store(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument(
        "--store", metavar="SPEC", default=None,
        help="local | local:PATH | lake:<event-data-store id or ARN> | athena:<workgroup>/<database>.<table> "
             "(default: $TRAILHOUND_STORE or local)",
    )


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = FORMATS, default: str = "table") -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default {default})")


_REL = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, *, name: str, now: dt.datetime | None = None) -> dt.datetime:
    """ISO-8601 (``2026-11-27T10:00:00Z``, a date) or a duration ago (``90m``, ``24h``, ``7d``); UTC."""
    now = now or dt.datetime.now(dt.UTC)
    m = _REL.match(value.strip())
    if m:
        return now - dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    text = value.strip().replace("Z", "+00:00")
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserInputError(
            f"{name} {value!r}: expected an ISO-8601 time (2026-11-27T10:00:00Z) or a duration ago (90m, 24h, 7d)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def parse_duration(value: str, *, name: str) -> dt.timedelta:
    m = _REL.match(value.strip())
    if not m:
        raise UserInputError(f"{name} {value!r}: expected a duration such as 5m, 1h, 7d")
    return dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
