"""The embedded event store: a DuckDB file shaped like a CloudTrail Lake event data store."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from trailhound.errors import SqlError, UserInputError
from trailhound.store.base import Engine, QueryResult
from trailhound.store.ingest import Ingestor, IngestSummary
from trailhound.store.schema import EVENTS_TABLE, create_table_sql

DEFAULT_DB = Path(".trailhound") / "events.duckdb"


def default_db_path() -> Path:
    return Path(os.environ.get("TRAILHOUND_DB") or DEFAULT_DB)


def connect(path: str | os.PathLike[str] | None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a DuckDB event store, in UTC, with the events table."""
    target = ":memory:" if path in (None, ":memory:") else str(path)
    if target != ":memory:":
        p = Path(target)
        if read_only and not p.exists():
            raise UserInputError(f"{p}: no event store here; run `trailhound ingest` first")
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.Error as exc:
        raise UserInputError(f"{target}: cannot open the event store ({str(exc).splitlines()[0]})") from exc
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    if not read_only:
        # Each ingest batch is appended as whole row groups plus one partial group. Merging those
        # partial groups at a checkpoint ("vacuum") rewrites most of the table every time; the
        # store never deletes, so there is nothing else to vacuum: keep checkpoints to new data.
        con.execute("SET max_vacuum_tasks = 0")
        con.execute(create_table_sql())
    return con


class LocalStore:
    """EventStore over a local DuckDB file (or ``:memory:``)."""

    engine = Engine.DUCKDB

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
                 con: duckdb.DuckDBPyConnection | None = None):
        self.path = ":memory:" if path == ":memory:" else str(path or default_db_path())
        self.con = con or connect(self.path, read_only=read_only)

    @property
    def name(self) -> str:
        return f"local:{self.path}"

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- EventStore ------------------------------------------------------------------------
    def compile(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        # Translated once per SQL text, whatever the values (see compile_cached); sqlglot is
        # loaded when SQL is first run, not to ingest.
        from trailhound.sql.translate import compile_cached

        return compile_cached(sql, params or {}, table=EVENTS_TABLE)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        compiled = self.compile(sql, params)
        return self.execute(compiled)

    def execute(self, duck_sql: str) -> QueryResult:
        """Run SQL already in DuckDB's dialect (used after ``compile``)."""
        started = time.perf_counter()
        try:
            cur = self.con.execute(duck_sql)
            columns = [d[0] for d in cur.description or []]
            rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            raise SqlError(f"query failed on the local store: {str(exc).splitlines()[0]}") from exc
        return QueryResult(columns=columns, rows=rows, sql=duck_sql, elapsed_s=time.perf_counter() - started)

    # -- loading ---------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | os.PathLike[str]],
               progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        return Ingestor(self.con).ingest(paths, progress=progress)

    # EVENTS_TABLE is this module's constant table name, not a value.
    def count(self) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {EVENTS_TABLE}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def time_range(self) -> tuple[Any, Any]:
        row = self.con.execute(f"SELECT min(eventTime), max(eventTime) FROM {EVENTS_TABLE}").fetchone()  # noqa: S608
        return (row[0], row[1]) if row else (None, None)
