"""Time-bounded, paged queries into pandas DataFrames.

A playbook never pulls a whole window in one go. Every query must be bounded by ``$START_TIME``
/ ``$END_TIME``; row queries are paged by time: the window is cut into slices, each slice query
carries ``LIMIT page_rows + 1``, and a slice that comes back full is halved until each page fits
(down to one second). Queries that already bound themselves (their own ``LIMIT``) or aggregate
over the whole window run once, capped at ``max_rows``. ``max_rows`` bounds the DataFrame;
``iter_pages`` yields page by page for windows too large to hold at all.

SQL comes from ``sql/playbooks/`` or ``sql/investigations/`` by name, or is given as text;
values only ever reach it through ``trailhound.sql.params.bind`` (the store does the binding).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailhound.errors import SqlError, UserInputError
from trailhound.sql.params import bind, placeholders
from trailhound.store.base import EventStore, QueryResult

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_PAGE_ROWS = 20_000
DEFAULT_MAX_ROWS = 500_000
DEFAULT_SLICE = dt.timedelta(hours=6)
MIN_SLICE = dt.timedelta(seconds=1)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Paging(enum.StrEnum):
    AUTO = "auto"  # row queries by time slices; aggregates and self-limited queries once
    TIME = "time"  # time slices (also right for aggregates bucketed by time: per-minute counts)
    NONE = "none"  # one query, capped at max_rows


@dataclass(frozen=True)
class Window:
    """A UTC time window, end exclusive."""

    start: dt.datetime
    end: dt.datetime

    @property
    def params(self) -> dict[str, dt.datetime]:
        return {"START_TIME": self.start, "END_TIME": self.end}

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{_iso(self.start)} to {_iso(self.end)}"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def window(start: str | dt.datetime | None = None, end: str | dt.datetime | None = None, *,
           default: dt.timedelta = dt.timedelta(hours=24), now: dt.datetime | None = None) -> Window:
    """The window from a notebook's ``start`` / ``end`` parameters.

    Each is an ISO-8601 time (``2026-11-27T09:00:00Z``), a duration ago (``90m``, ``24h``, ``7d``),
    a ``datetime``, or empty: ``end`` defaults to now, ``start`` to ``default`` before ``end``.
    """
    from trailhound.commands._common import parse_time

    now = _utc(now or dt.datetime.now(dt.UTC))

    def parse(value: str | dt.datetime | None, name: str) -> dt.datetime | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, dt.datetime):
            return _utc(value)
        return parse_time(str(value), name=f"parameter {name}", now=now)

    e = parse(end, "end") or now
    s = parse(start, "start") or e - default
    if e <= s:
        raise UserInputError(f"parameters start/end: the window {_iso(s)} to {_iso(e)} is empty "
                             "(end must be after start)")
    return Window(s, e)


# --- the SQL ---------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def playbook_sql(name: str) -> str:
    """``sql/playbooks/<name>.sql``, else ``sql/investigations/<name>.sql``."""
    from trailhound.detections.model import sql_dir
    from trailhound.investigation.enrich import investigation_sql

    path = Path(sql_dir()) / "playbooks" / f"{name}.sql"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if (Path(sql_dir()) / "investigations" / f"{name}.sql").is_file():
        return investigation_sql(name)
    raise UserInputError(f"query {name!r}: no {name}.sql in {Path(sql_dir()) / 'playbooks'} "
                         f"or {Path(sql_dir()) / 'investigations'}")


def resolve_sql(sql_or_name: str) -> tuple[str, str]:
    """(label, SQL text) for a query name or SQL text."""
    text = sql_or_name.strip()
    if _NAME.match(text):
        return text, playbook_sql(text)
    return "query", sql_or_name


@dataclass(frozen=True)
class _Shape:
    has_limit: bool
    aggregate: bool
    order: list[tuple[str, bool]]  # (output column, descending) when every ORDER BY key is one


def _shape(sql: str, params: Mapping[str, Any], label: str) -> _Shape:
    from sqlglot import exp

    from trailhound.sql.translate import parse_trino

    try:
        tree = parse_trino(bind(sql, params, table="events"))
    except SqlError as exc:
        raise SqlError(f"query {label}: {exc}") from None
    select = tree if isinstance(tree, exp.Select) else None
    aggregate = bool(select is not None and (
        select.args.get("group")
        or any(e.find(exp.AggFunc) for e in select.expressions)))
    order: list[tuple[str, bool]] = []
    outputs = {o.alias_or_name.lower() for o in getattr(tree, "selects", [])}
    order_node = tree.args.get("order")
    if order_node is not None:
        for key in order_node.expressions:
            col = key.this
            if isinstance(col, exp.Column) and not col.table and col.name.lower() in outputs:
                order.append((col.name, bool(key.args.get("desc"))))
            else:
                order = []
                break
    return _Shape(has_limit=tree.args.get("limit") is not None, aggregate=aggregate, order=order)


def _with_limit(sql: str, limit: int) -> str:
    return sql.rstrip().rstrip(";").rstrip() + f"\nLIMIT {int(limit)}"


# --- pages -------------------------------------------------------------------------------------

@dataclass
class PageStats:
    """What paging did: shown in a DataFrame's ``attrs``."""

    query: str
    window: Window
    paging: Paging
    pages: int = 0
    queries: int = 0
    rows: int = 0
    truncated: bool = False
    bytes_scanned: int = 0
    elapsed_s: float = 0.0
    order: list[tuple[str, bool]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "window": str(self.window), "paging": self.paging.value,
                "pages": self.pages, "queries": self.queries, "rows": self.rows, "truncated": self.truncated,
                "bytes_scanned": self.bytes_scanned, "elapsed_s": round(self.elapsed_s, 3)}


def _split(start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
    """A point strictly inside [start, end), on a whole minute if one is, else a whole second."""
    if end - start <= MIN_SLICE:
        return None
    mid = start + (end - start) / 2
    for unit in (dt.timedelta(minutes=1), dt.timedelta(seconds=1)):
        floored = mid - (mid - dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) % unit
        if start < floored < end:
            return floored
    return None


def _slices(win: Window, size: dt.timedelta) -> list[tuple[dt.datetime, dt.datetime]]:
    n = max(1, math.ceil(win.duration / size))
    bounds = [win.start + i * size for i in range(n)] + [win.end]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


def iter_pages(store: EventStore, sql_or_name: str, params: Mapping[str, Any] | None = None,
               start: dt.datetime | Window | None = None, end: dt.datetime | None = None, *,
               page_rows: int = DEFAULT_PAGE_ROWS, max_rows: int = DEFAULT_MAX_ROWS,
               paging: Paging | str = Paging.AUTO, slice_size: dt.timedelta = DEFAULT_SLICE,
               stats: PageStats | None = None) -> Iterator[pd.DataFrame]:
    """Yield the query's rows as DataFrames of at most ``page_rows`` rows (see the module doc).

    ``start`` may be a :class:`Window` (then ``end`` is ignored); otherwise ``start``/``end`` or
    ``params['START_TIME'/'END_TIME']`` give the window. Stops after ``max_rows`` rows.
    """
    label, sql = resolve_sql(sql_or_name)
    values = {k.upper(): v for k, v in (params or {}).items()}
    win = _window_of(start, end, values, label)
    return _pages(store, label, sql, values, win, page_rows=page_rows, max_rows=max_rows, paging=Paging(paging),
                  slice_size=slice_size, stats=stats or PageStats(label, win, Paging(paging)))


def _pages(store: EventStore, label: str, sql: str, values: dict[str, Any], win: Window, *, page_rows: int,
           max_rows: int, paging: Paging, slice_size: dt.timedelta, stats: PageStats) -> Iterator[pd.DataFrame]:
    if page_rows < 1 or max_rows < 1:
        raise UserInputError("page_rows and max_rows must be at least 1")
    values = dict(values)
    values.update(win.params)
    used = placeholders(sql)
    if not {"START_TIME", "END_TIME"} <= used:
        raise UserInputError(f"query {label}: not time-bounded; it must filter "
                             "eventTime >= $START_TIME AND eventTime < $END_TIME")
    values = {k: v for k, v in values.items() if k in used}
    shape = _shape(sql, values, label)
    mode = paging
    if mode is Paging.AUTO:
        mode = Paging.NONE if (shape.has_limit or shape.aggregate) else Paging.TIME
    st = stats
    st.paging = mode
    st.order = shape.order

    def run(q: str, a: dt.datetime, b: dt.datetime) -> QueryResult:
        result = store.query(q, {**values, "START_TIME": a, "END_TIME": b})
        st.queries += 1
        st.bytes_scanned += result.bytes_scanned or 0
        st.elapsed_s += result.elapsed_s
        return result

    def emit(result: QueryResult, rows: list[dict[str, Any]]) -> Iterator[pd.DataFrame]:
        room = max_rows - st.rows
        if len(rows) > room:
            rows, st.truncated = rows[:room], True
        for i in range(0, len(rows), page_rows):
            chunk = rows[i:i + page_rows]
            st.pages += 1
            st.rows += len(chunk)
            yield to_frame(QueryResult(columns=result.columns, rows=chunk, sql=result.sql))

    if mode is Paging.NONE:
        cap = max_rows + 1
        q = sql if shape.has_limit else _with_limit(sql, cap)
        result = run(q, win.start, win.end)
        if len(result.rows) > max_rows:
            st.truncated = True
        yield from emit(result, result.rows)
        if st.pages == 0:
            yield to_frame(QueryResult(columns=result.columns, rows=[], sql=result.sql))
            st.pages = 1
        return

    q = sql if shape.has_limit else _with_limit(sql, page_rows + 1)
    pending = list(reversed(_slices(win, slice_size)))
    columns: list[str] | None = None
    while pending and st.rows < max_rows:
        a, b = pending.pop()
        result = run(q, a, b)
        columns = result.columns
        if not shape.has_limit and len(result.rows) > page_rows:
            mid = _split(a, b)
            if mid is not None:
                pending.extend([(mid, b), (a, mid)])  # the earlier half is popped first
                continue
            st.truncated = True  # one second holds more than a page: keep a page of it
            result = QueryResult(columns=result.columns, rows=result.rows[:page_rows], sql=result.sql)
        if result.rows:
            yield from emit(result, result.rows)
    if pending:
        st.truncated = True
    if st.pages == 0:
        st.pages = 1
        yield to_frame(QueryResult(columns=columns or [], rows=[], sql=""))


def query_df(store: EventStore, sql_or_name: str, params: Mapping[str, Any] | None = None,
             start: dt.datetime | Window | None = None, end: dt.datetime | None = None, *,
             page_rows: int = DEFAULT_PAGE_ROWS, max_rows: int = DEFAULT_MAX_ROWS,
             paging: Paging | str = Paging.AUTO, slice_size: dt.timedelta = DEFAULT_SLICE) -> pd.DataFrame:
    """Run a named playbook/investigation query (or SQL text) over a window into one DataFrame.

    ``df.attrs['paging']`` says how it was paged and whether ``max_rows`` cut it
    (``truncated``). Rows of time-sliced queries are re-sorted by the query's ORDER BY when
    that orders by output columns.
    """
    import pandas as pd

    label, sql = resolve_sql(sql_or_name)
    values = {k.upper(): v for k, v in (params or {}).items()}
    win = _window_of(start, end, values, label)
    stats = PageStats(label, win, Paging(paging))
    frames = list(_pages(store, label, sql, values, win, page_rows=page_rows, max_rows=max_rows,
                         paging=Paging(paging), slice_size=slice_size, stats=stats))
    non_empty = [f for f in frames if len(f)]
    df = pd.concat(non_empty, ignore_index=True) if len(non_empty) > 1 else (non_empty or frames)[0]
    if stats.queries > 1 and stats.order and len(df) and all(c in df.columns for c, _ in stats.order):
        df = df.sort_values([c for c, _ in stats.order], ascending=[not d for _, d in stats.order],
                            kind="stable", ignore_index=True)
    stats.query = label
    df.attrs["paging"] = stats.as_dict()
    return df


def _window_of(start: dt.datetime | Window | None, end: dt.datetime | None, values: Mapping[str, Any],
               label: str) -> Window:
    if isinstance(start, Window):
        return start
    s = start if start is not None else values.get("START_TIME")
    e = end if end is not None else values.get("END_TIME")
    if not isinstance(s, dt.datetime) or not isinstance(e, dt.datetime):
        raise UserInputError(f"query {label}: give the window (start and end datetimes, or a Window)")
    win = Window(_utc(s), _utc(e))
    if win.end <= win.start:
        raise UserInputError(f"query {label}: the window {win} is empty (end must be after start)")
    return win


# --- rows to a frame ---------------------------------------------------------------------------

def to_frame(result: QueryResult) -> pd.DataFrame:
    """A QueryResult as a DataFrame: timestamps as UTC ``datetime64``, decimals as floats."""
    import pandas as pd

    df = pd.DataFrame.from_records(result.rows, columns=result.columns)
    for col in df.columns:
        sample = next((v for v in df[col] if v is not None), None)
        if isinstance(sample, dt.datetime):
            df[col] = pd.to_datetime(df[col], utc=True)
        elif isinstance(sample, decimal.Decimal):
            df[col] = df[col].astype(float)
    return df
