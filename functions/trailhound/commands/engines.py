"""``trailhound compile``: the SQL exactly as an engine would receive it, for a window.

No AWS call is made: the Lake and Athena engines compile without a client.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from trailhound.commands._common import parse_time
from trailhound.errors import UserInputError
from trailhound.store.base import Engine, EventStore

ENGINES = tuple(e.value for e in Engine)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compile", help="print a detection's SQL exactly as an engine would receive it",
        description="Bind the window (and threshold) of a detection and translate it for an engine: "
                    "lake (sent as is to CloudTrail Lake), athena (rewritten for the CloudTrail table in "
                    "Athena, with the partition filter), duckdb (the local store). Default window: the "
                    "detection's lookback ending now.")
    p.add_argument("detection", metavar="DETECTION_ID",
                   help="a detection id, or the path of a .sql file (investigation queries: add --param)")
    p.add_argument("--engine", choices=ENGINES, help="target engine (default: the --store's kind, else duckdb)")
    p.add_argument("--store", metavar="SPEC", default=None,
                   help="lake:<id-or-arn> | athena:<workgroup>/<database>.<table> | local "
                        "(default: $TRAILHOUND_STORE; needed for lake and athena)")
    p.add_argument("--since", metavar="T", help="window start: ISO-8601 time or a duration ago (90m, 24h, 7d)")
    p.add_argument("--until", metavar="T", help="window end, exclusive (default: now)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="value for another $NAME placeholder (repeatable)")
    p.set_defaults(func=run)


def compiler(engine: Engine, spec: str | None) -> EventStore:
    """An engine object that can compile (no client, no file) for ``engine`` and the store ``spec``."""
    kind, _, rest = (spec or "").partition(":")
    if engine is Engine.DUCKDB:
        if spec and kind != "local":
            raise UserInputError(f"--engine duckdb does not match --store {spec!r}")
        from trailhound.store.local import LocalStore

        return LocalStore(":memory:")
    if kind != engine.value or not rest:
        raise UserInputError(
            f"--engine {engine.value} needs --store {engine.value}:"
            + ("<event-data-store id or ARN>" if engine is Engine.LAKE else "<workgroup>/<database>.<table>")
            + " (or $TRAILHOUND_STORE)" + (f"; got {spec!r}" if spec else ""))
    if engine is Engine.LAKE:
        from trailhound.store.lake import LakeStore

        return LakeStore(rest)
    from trailhound.store.athena import AthenaStore, parse_spec

    return AthenaStore(*parse_spec(rest))


def _window(args: argparse.Namespace, lookback: dt.timedelta | None) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    end = parse_time(args.until, name="--until", now=now) if args.until else now
    if args.since:
        start = parse_time(args.since, name="--since", now=now)
    elif lookback is not None:
        start = end - lookback
    else:
        raise UserInputError("--since is required for a .sql file (it has no lookback)")
    if end <= start:
        raise UserInputError(f"window [{start.isoformat()}, {end.isoformat()}) is empty: --until must be after --since")
    return start, end


def _extra_params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserInputError(f"--param {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def sql_and_params(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The SQL to compile and its parameters (window, threshold, --param)."""
    extra = _extra_params(args.param)
    target = args.detection
    if target.endswith(".sql") or os.sep in target:
        path = Path(target)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserInputError(f"{path}: cannot read ({exc.strerror})") from None
        start, end = _window(args, None)
        return text, {"START_TIME": start, "END_TIME": end, **extra}
    from trailhound.detections import load_detections
    from trailhound.detections.runner import query_params, tuning_for

    (detection,) = load_detections(ids=[target])
    start, end = _window(args, detection.header.lookback_delta)
    params = query_params(detection, start, end, tuning_for(detection, None))
    return detection.sql, {**params, **extra}


def run(args: argparse.Namespace) -> int:
    spec = args.store or os.environ.get("TRAILHOUND_STORE")
    if args.engine:
        engine = Engine(args.engine)
    else:
        kind = (spec or "local").partition(":")[0]
        engine = Engine(kind) if kind in ENGINES else Engine.DUCKDB
        if kind not in ENGINES and kind != "local":
            raise UserInputError(f"--store {spec!r}: expected local, lake:... or athena:...")
    store = compiler(engine, spec if (args.store or engine is not Engine.DUCKDB) else None)
    sql, params = sql_and_params(args)
    sys.stdout.write(store.compile(sql, params).rstrip() + "\n")
    return 0
