"""Translate CloudTrail Lake SQL (Trino dialect) to DuckDB through sqlglot's tree.

sqlglot passes functions it does not know through unchanged, and some functions that exist in
both engines mean different things. ``to_duckdb`` therefore rewrites the known gaps on the
tree (``trailhound.sql.gaps``) and rejects anything it cannot vouch for with an error that
names the construct and its line. See docs/sql.md for the gap table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from trailhound.errors import SqlError, UnsupportedSqlError
from trailhound.sql import gaps

_QUERY_TYPES = (exp.Select, exp.SetOperation, exp.Subquery)
_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: .*?>")


def parse_trino(sql: str) -> exp.Expression:
    """Parse one Lake-dialect SELECT; SqlError (naming line and column) if it does not parse."""
    try:
        trees = [t for t in sqlglot.parse(sql, read=gaps.LakeTrino) if t is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        detail = _TOKEN_REPR.sub(r"'\1'", str(first.get("description") or exc).splitlines()[0])
        raise SqlError(f"SQL does not parse as CloudTrail Lake (Trino) SQL{where}: {detail}") from None
    except TokenError as exc:
        raise SqlError(f"SQL does not parse as CloudTrail Lake (Trino) SQL: {str(exc).splitlines()[0]}") from None
    if len(trees) != 1:
        raise SqlError(f"expected exactly one SQL statement, got {len(trees)}")
    tree = trees[0]
    if not isinstance(tree, _QUERY_TYPES) or not isinstance(tree, exp.Expression):
        raise SqlError(f"only SELECT queries are allowed (CloudTrail Lake runs nothing else), got {tree.key.upper()}")
    return tree


Tables = Mapping[str, Sequence[tuple[str, str]]]


def rewrite_for_duckdb(tree: exp.Expr, sql: str = "", tables: Tables | None = None) -> exp.Expr:
    """Close the Trino → DuckDB gaps on ``tree`` and check every remaining function."""
    return gaps.apply(tree, sql, tables)


def to_duckdb(sql: str, tables: Tables | None = None) -> str:
    """Return DuckDB SQL equivalent to the Lake-dialect ``sql`` (placeholders already bound).

    ``tables`` maps each table the SQL reads to its ``(column, DuckDB type)`` list, so that the
    rewrites know which columns are maps, arrays of rows, integers...; the default is the local
    store's Lake-shaped ``events`` table (``store.schema.LAKE_COLUMNS``). Columns of other
    tables are of unknown type (still translated, with run-time checks where types matter).

    Raises :class:`SqlError` when the SQL does not parse and :class:`UnsupportedSqlError`
    (``unsupported in the local engine: <construct> (line N)``) for constructs the local engine
    cannot run with Trino's meaning.
    """
    return rewrite_for_duckdb(parse_trino(sql), sql, tables).sql(dialect="duckdb")


__all__ = ["Tables", "parse_trino", "to_duckdb", "rewrite_for_duckdb", "SqlError", "UnsupportedSqlError"]
