"""Translate CloudTrail Lake SQL (Trino dialect) to DuckDB through sqlglot's tree.

sqlglot passes functions it does not know through unchanged, and some functions that exist in
both engines mean different things. ``to_duckdb`` therefore rewrites the known gaps on the
tree and rejects anything it cannot vouch for with an error that names the construct.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from trailhound.errors import SqlError, UnsupportedSqlError


def parse_trino(sql: str) -> exp.Expression:
    try:
        trees = [t for t in sqlglot.parse(sql, read="trino") if t is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise SqlError(f"SQL does not parse as CloudTrail Lake (Trino) SQL{where}: {first.get('description', exc)}") from exc
    if len(trees) != 1:
        raise SqlError(f"expected exactly one SQL statement, got {len(trees)}")
    return trees[0]


def to_duckdb(sql: str) -> str:
    """Return DuckDB SQL equivalent to the Lake-dialect ``sql`` (placeholders already bound)."""
    tree = parse_trino(sql)
    tree = rewrite_for_duckdb(tree)
    return tree.sql(dialect="duckdb")


def rewrite_for_duckdb(tree: exp.Expression) -> exp.Expression:
    from trailhound.sql import gaps

    return gaps.apply(tree)


__all__ = ["parse_trino", "to_duckdb", "rewrite_for_duckdb", "UnsupportedSqlError"]
