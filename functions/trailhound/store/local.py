"""The embedded event store: a DuckDB file shaped like a CloudTrail Lake event data store."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from trailhound.errors import SqlError, UserInputError
from trailhound.sql.params import sql_identifier, sql_literal
from trailhound.store.base import Engine, QueryResult
from trailhound.store.ingest import Ingestor, IngestSummary
from trailhound.store.inputs import Prefetch
from trailhound.store.schema import EVENTS_TABLE, create_table_sql

DEFAULT_DB = Path(".trailhound") / "events.duckdb"
# Rows a row group holds (DuckDB's default: 122,880). An insert thread compresses and writes its
# own row groups only once it has filled one; the rows of a thread with fewer are appended one
# thread at a time. Groups of 32,768 keep both cores busy to the end of each ingest batch: the
# 1M-event benchmark left ~25% less of them idle, and its peak memory fell from ~0.9 to ~0.5 GB
# (each thread holds one group uncompressed). The store file grows ~5%; see docs/store.md.
ROW_GROUP_ROWS = 32_768


def default_db_path() -> Path:
    return Path(os.environ.get("TRAILHOUND_DB") or DEFAULT_DB)


class _Instance:
    """The DuckDB instance of one store file in this process, as ``duckdb.connect(path)`` shares
    one: the store attached with ``ROW_GROUP_ROWS`` (a size DuckDB does not keep in the file), and
    handed out as cursors. It closes (checkpointing the file) when its last handle is released."""

    def __init__(self, target: str, read_only: bool):
        options = f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}" + (", READ_ONLY" if read_only else "")
        self.read_only = read_only
        self.handles = 0
        self.owner = duckdb.connect()
        try:
            self.owner.execute(f"ATTACH {sql_literal(target)} AS store ({options})")
        except duckdb.Error as exc:
            self.owner.close()
            raise UserInputError(f"{target}: cannot open the event store ({str(exc).splitlines()[0]})") from exc


_INSTANCES: dict[str, _Instance] = {}  # by resolved path; :memory: stores are never shared
_INSTANCES_LOCK = threading.Lock()


def connect(path: str | os.PathLike[str] | None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a DuckDB event store, in UTC, with the events table.

    Close the connection with ``release``: the file stays open while any connection to it does.
    """
    target = ":memory:" if path in (None, ":memory:") else str(path)
    key = None
    if target != ":memory:":
        p = Path(target)
        if read_only and not p.exists():
            raise UserInputError(f"{p}: no event store here; run `trailhound ingest` first")
        p.parent.mkdir(parents=True, exist_ok=True)
        key = str(p.resolve())
    with _INSTANCES_LOCK:
        instance = _INSTANCES.get(key) if key else None
        if instance is None:
            instance = _Instance(target, read_only)
            if key:
                _INSTANCES[key] = instance
        elif instance.read_only != read_only:
            mode = "read-only" if instance.read_only else "for writing"
            raise UserInputError(f"{target}: cannot open the event store (already open {mode} in this process)")
        con = instance.owner.cursor()
        instance.handles += 1
    # Released by ``release``, or when the connection is garbage (as DuckDB's own would be).
    _RELEASE[id(con)] = weakref.finalize(con, _let_go, id(con), key, instance)
    con.execute("USE store")
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


_RELEASE: dict[int, weakref.finalize] = {}  # connections of ``connect`` not yet released


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Close a connection of ``connect``, and the store's instance with its last one."""
    con.close()
    finalizer = _RELEASE.get(id(con))
    if finalizer is not None:
        finalizer()


def _let_go(con_id: int, key: str | None, instance: _Instance) -> None:
    _RELEASE.pop(con_id, None)
    with _INSTANCES_LOCK:
        instance.handles -= 1
        if instance.handles == 0:
            if key is not None and _INSTANCES.get(key) is instance:
                del _INSTANCES[key]
            instance.owner.close()


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
        release(self.con)

    def cursor(self) -> LocalStore:
        """Another store on the same data, for another thread: a DuckDB cursor (a connection of
        its own) in this store's database and session time zone."""
        row = self.con.execute("SELECT current_database(), current_setting('TimeZone')").fetchone()
        database, zone = (str(row[0]), str(row[1])) if row else ("store", "UTC")
        cur = self.con.cursor()
        cur.execute(f"USE {sql_identifier(database)}")
        cur.execute(f"SET TimeZone = {sql_literal(zone)}")
        return LocalStore(self.path, con=cur)

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
    def ingest(self, paths: Iterable[str | os.PathLike[str]] | Prefetch,
               progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        """Load files (or a ``Prefetch`` of them) into the store (``Ingestor.ingest``)."""
        return Ingestor(self.con).ingest(paths, progress=progress)

    # EVENTS_TABLE is this module's constant table name, not a value.
    def count(self) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {EVENTS_TABLE}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def time_range(self) -> tuple[Any, Any]:
        row = self.con.execute(f"SELECT min(eventTime), max(eventTime) FROM {EVENTS_TABLE}").fetchone()  # noqa: S608
        return (row[0], row[1]) if row else (None, None)
