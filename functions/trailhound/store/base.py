"""The event-store interface every engine implements (local DuckDB, CloudTrail Lake, Athena).

An engine takes Lake-dialect SQL with ``$EDS_ID`` and named ``$PARAMS`` and returns typed rows.
Engines are constructed with their clients injected, so only adapters need AWS fakes.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class Engine(enum.StrEnum):
    DUCKDB = "duckdb"
    LAKE = "lake"
    ATHENA = "athena"


@dataclass(frozen=True)
class QueryResult:
    """Rows of one query, in SELECT order, with what running it cost."""

    columns: list[str]
    rows: list[dict[str, Any]]
    sql: str  # exactly what was sent to the engine
    elapsed_s: float = 0.0
    bytes_scanned: int | None = None
    query_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


@runtime_checkable
class EventStore(Protocol):
    """Run Lake-dialect SQL against CloudTrail events."""

    engine: Engine

    @property
    def name(self) -> str:
        """Human-readable store reference, e.g. ``local:/path/events.duckdb``."""
        ...

    def compile(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        """Return the SQL exactly as it would be sent for these parameters."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Bind ``params``, translate for the engine, run, and return typed rows."""
        ...


def window_params(start: dt.datetime, end: dt.datetime) -> dict[str, dt.datetime]:
    """The named window placeholders ``$START_TIME`` / ``$END_TIME`` (UTC, end exclusive)."""
    return {"START_TIME": start, "END_TIME": end}
