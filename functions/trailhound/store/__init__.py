"""Event stores: the local DuckDB file, CloudTrail Lake, Athena — one interface."""

from __future__ import annotations

import os

from trailhound.errors import UserInputError
from trailhound.store.base import Engine, EventStore, QueryResult

__all__ = ["Engine", "EventStore", "QueryResult", "open_store"]


def open_store(spec: str | None = None, *, db: str | None = None, read_only: bool = False) -> EventStore:
    """Open the store named by ``spec`` (``local``, ``local:PATH``, ``lake:ID``, ``athena:WG/DB.TABLE``).

    ``spec`` defaults to ``$TRAILHOUND_STORE`` and then ``local``; ``db`` is the local file.
    """
    spec = spec or os.environ.get("TRAILHOUND_STORE") or "local"
    kind, _, rest = spec.partition(":")
    if kind == "local":
        from trailhound.store.local import LocalStore

        return LocalStore(rest or db, read_only=read_only)
    if kind == "lake":
        from trailhound.store import lake  # type: ignore[attr-defined]

        return lake.from_spec(rest)  # type: ignore[no-any-return]
    if kind == "athena":
        from trailhound.store import athena  # type: ignore[attr-defined]

        return athena.from_spec(rest)  # type: ignore[no-any-return]
    raise UserInputError(
        f"--store {spec!r}: expected local, local:PATH, lake:<id-or-arn> or athena:<workgroup>/<database>.<table>"
    )
