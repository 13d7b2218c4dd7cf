"""Tree rewrites that close the known Trino → DuckDB translation gaps (see docs/sql.md)."""

from __future__ import annotations

from sqlglot import exp


def apply(tree: exp.Expression) -> exp.Expression:
    return tree
