"""Translate CloudTrail Lake SQL (Trino dialect) to DuckDB through sqlglot's tree.

sqlglot passes functions it does not know through unchanged, and some functions that exist in
both engines mean different things. ``to_duckdb`` therefore rewrites the known gaps on the
tree (``trailhound.sql.gaps``) and rejects anything it cannot vouch for with an error that
names the construct and its line. See docs/sql.md for the gap table.

``compile_cached`` binds and translates like ``to_duckdb(bind(...))`` but parses and rewrites
each SQL text once: the translation of the *template* (placeholders bound to sentinel values) is
kept in an LRU cache and each call substitutes the literals of its own values (made by
``sql_literal``) for the sentinels' — see docs/detections-performance.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from trailhound.errors import SqlError, TrailHoundError, UnsupportedSqlError
from trailhound.sql import gaps
from trailhound.sql.params import TABLE_PLACEHOLDER, bind, placeholders, sql_literal

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
    return _in_lists_as_semi_joins(rewrite_for_duckdb(parse_trino(sql), sql, tables)).sql(dialect="duckdb")


def _in_lists_as_semi_joins(tree: exp.Expr) -> exp.Expr:
    """Speed only, same result: ``col IN ('a', 'b')`` as ``col IN (SELECT * FROM (VALUES ...))``.

    DuckDB uses an IN list of constants in a scan only to skip row groups by min/max, then reads
    every projected column of every row and filters afterwards: on a store not ordered by that
    column, a detection for two rare API calls reads the whole table. The semi join's build side
    is pushed into the scan as a filter at run time, so vectors without a match are never read
    (a detection's scan of 1M events: ~150 ms -> ~10 ms). Only for lists of string literals that
    are top-level conjuncts of the WHERE of a SELECT over one table (there NULL and FALSE filter
    alike, and the scan is the table's)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for select in tree.find_all(exp.Select):
        where, source = select.args.get("where"), select.args.get("from_") or select.args.get("from")
        if (where is None or select.args.get("joins") or source is None or not isinstance(source.this, exp.Table)
                or source.this.name.lower() in ctes):
            continue
        top = where.this.unnest()
        for cond in top.flatten() if isinstance(top, exp.And) else [top]:
            if (isinstance(cond, exp.In) and not cond.args.get("query") and not cond.args.get("unnest")
                    and not cond.args.get("field") and len(cond.expressions) >= 2
                    and all(isinstance(v, exp.Literal) and v.is_string for v in cond.expressions)):
                values = exp.Values(expressions=[exp.Tuple(expressions=[v.copy()]) for v in cond.expressions],
                                    alias=exp.TableAlias(this=exp.to_identifier("_in_list"),
                                                         columns=[exp.to_identifier("v")]))
                cond.set("expressions", [])
                cond.set("query", exp.select("v").from_(values).subquery())
    return tree


# --- cached translation ----------------------------------------------------------------------
#
# A template is translated twice, with two different sets of sentinel values (same types as the
# real values, so type-driven rewrites take the same path). It is cached only when replacing the
# first set's literals by the second's, in the first output, gives exactly the second output: then
# no rewrite looked at a value (folded it, measured it, quoted it differently), and substituting
# the literals of any other value of the same kind gives what translating the bound SQL gives.
# Values of other kinds (floats, lists, NULL, negative ints ...) take the uncached path.

_NONCE = secrets.token_hex(6)
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _kind(value: Any) -> str | None:
    """The value kinds whose literal text is value-independent in shape (else: not cached)."""
    if isinstance(value, dt.datetime):
        return "ts"
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 2**31:
        return "int"
    if isinstance(value, str):
        return "str"
    return None


def _sentinel(kind: str, index: int, variant: int) -> Any:
    """A value of ``kind`` that no detection text contains; ``variant`` 0/1 differ in length."""
    if kind == "ts":
        return dt.datetime(2999 - variant, 1 + variant, 1 + index // 60 % 28, 12 + variant, 34, index % 60,
                           789000 - 111000 * variant)
    if kind == "int":
        return 1_900_000_001 + 7919 * index - 123_456_789 * variant
    return f"trailhound-sentinel-{_NONCE}-{index}" + "-x" * variant


def _duck_literal(kind: str, value: Any) -> str:
    """The text DuckDB SQL carries for ``value`` where the translation wrote its literal: the
    ``sql_literal`` text, less the ``TIMESTAMP`` keyword (the translation writes
    ``CAST('…' AS TIMESTAMP)`` around the quoted text)."""
    text = sql_literal(value)
    if kind == "ts":
        return text.removeprefix("TIMESTAMP ")
    return text


def _core(kind: str, value: Any) -> str:
    """Text that any use of the sentinel in the output must contain."""
    if kind == "ts":
        return value.strftime(_TS_FORMAT)[:-3]
    return str(value)


def _pattern(kind: str, literal: str) -> str:
    if kind == "int":  # a whole number token, not digits inside a longer number or name
        return r"(?<![\w.])" + re.escape(literal) + r"(?![\w.])"
    return re.escape(literal)


@dataclass(frozen=True)
class _Template:
    """A translated template: its text and, per placeholder, the sentinel literal it contains."""

    text: str
    slots: tuple[tuple[str, str], ...]  # (placeholder name, kind)
    pattern: re.Pattern[str]
    by_literal: dict[str, int]  # sentinel literal text -> index into slots


@functools.lru_cache(maxsize=256)
def _names(sql: str) -> tuple[str, ...]:
    return tuple(sorted(n for n in placeholders(sql) if n != TABLE_PLACEHOLDER))


@functools.lru_cache(maxsize=512)
def _template(sql: str, table: str | None, slots: tuple[tuple[str, str], ...]) -> _Template | None:
    """The cached translation of ``sql`` for placeholders of these kinds, or None if the
    translation depends on the values (then every call translates the bound SQL)."""
    variants: list[tuple[str, dict[str, tuple[str, str]]]] = []
    for variant in (0, 1):
        values = {name: _sentinel(kind, i, variant) for i, (name, kind) in enumerate(slots)}
        literals = {name: (_duck_literal(kind, values[name]), _core(kind, values[name])) for name, kind in slots}
        if any(core in sql for _, core in literals.values()):
            return None
        try:
            text = to_duckdb(bind(sql, values, table=table))
        except TrailHoundError:
            return None  # the uncached path reports the error with the real values
        for name, kind in slots:
            literal, core = literals[name]
            found = len(re.findall(_pattern(kind, literal), text))
            if found == 0 or found != text.count(core):
                return None  # the value was dropped, folded or used in another form
        variants.append((text, literals))
    (text0, lit0), (text1, lit1) = variants
    pattern = re.compile("|".join(_pattern(kind, lit0[name][0]) for name, kind in slots))
    by_literal = {lit0[name][0]: i for i, (name, _) in enumerate(slots)}
    swapped = pattern.sub(lambda m: lit1[slots[by_literal[m.group()]][0]][0], text0)
    if swapped != text1:
        return None
    return _Template(text=text0, slots=slots, pattern=pattern, by_literal=by_literal)


@functools.lru_cache(maxsize=512)
def _translate_bound(bound_sql: str) -> str:
    """Translation of SQL with its values bound, for texts without a template (no value
    placeholders, values of other kinds, the first call): the same text repeated is free."""
    return to_duckdb(bound_sql)


# Per (sql, table, slots): the bound text of its first call, until a call brings other values;
# then None: the template is wanted (built once by _template, cached there).
_SEEN: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], str | None] = {}
_SEEN_MAX = 1024
_SEEN_LOCK = threading.Lock()
_UNSEEN = object()


def compile_cached(sql: str, params: Mapping[str, Any] | None = None, *, table: str | None = None) -> str:
    """``to_duckdb(bind(sql, params, table=table))``, with the translation cached per SQL text.

    Same result and same errors as the uncached form. While a text comes with the same values it
    is translated once and served by its bound text (so a one-shot `trailhound detect`, or a
    benchmark repeating one window, pays one translation per detection and nothing to build
    templates). When it comes with other values (a scheduler's next window), its template is
    built (translated with sentinel values, checked, cached); from then on a call only makes the
    literals of its values (by ``sql_literal``) and puts them where the template has its
    sentinels.
    """
    params = params or {}
    names = _names(sql)
    values = {k.upper(): v for k, v in params.items()}
    kinds = tuple((name, _kind(values[name])) if name in values else (name, None) for name in names)
    if not names or any(kind is None for _, kind in kinds):
        return _translate_bound(bind(sql, params, table=table))
    slots = tuple((name, str(kind)) for name, kind in kinds)
    key = (sql, table, slots)
    with _SEEN_LOCK:
        state = _SEEN.get(key, _UNSEEN)
    if state is not None:
        bound = bind(sql, params, table=table)
        if state is _UNSEEN or state == bound:
            if state is _UNSEEN:
                with _SEEN_LOCK:
                    _SEEN[key] = bound
                    while len(_SEEN) > _SEEN_MAX:
                        del _SEEN[next(iter(_SEEN))]
            return _translate_bound(bound)
        with _SEEN_LOCK:
            _SEEN[key] = None  # other values than before: worth a template
    template = _template(sql, table, slots)
    if template is None:
        return _translate_bound(bind(sql, params, table=table))
    literals = [_duck_literal(kind, values[name]) for name, kind in slots]
    return template.pattern.sub(lambda m: literals[template.by_literal[m.group()]], template.text)


def cache_info() -> functools._CacheInfo:
    """Hits and misses of the template cache (for benchmarks and tests)."""
    return _template.cache_info()


__all__ = ["Tables", "parse_trino", "to_duckdb", "rewrite_for_duckdb", "compile_cached", "cache_info",
           "SqlError", "UnsupportedSqlError"]
