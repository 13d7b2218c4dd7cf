"""Rewrite CloudTrail Lake SQL for the Athena CloudTrail table, on sqlglot's tree.

The target is the table of the Athena user guide ("Create the table for CloudTrail logs in
Athena using partition projection"): same column names as Lake, but ``eventtime`` is ISO-8601
text, ``requestparameters`` and the other detail maps are raw JSON text, ``readonly`` is text,
``resources`` has no ``arnprefix``, ``addendum`` is a struct, the identity struct lacks a few
newer fields, there is no ``eventjson``/``managementevent``/``annotation``/``insightdetails``,
and the table is partitioned by the projected ``timestamp`` column (``'yyyy/MM/dd'``).

How the rewrite works (see docs/engines.md):

* every reference to the event table becomes a derived table, the *Lake-shaped view*, that
  reads only the referenced columns, converts ``eventtime`` to a timestamp, ``readonly`` to a
  boolean and ``resources`` to Lake's row type, and filters the partition column with the
  time bounds of the SELECT that reads it (or the query window), so no query scans the
  whole bucket;
* ``element_at(<detail map>, 'k')`` (and ``m['k']``) becomes a JSON lookup that returns the
  scalar text, or the JSON text of a nested object/array, like Lake's map value;
* ``useridentity.sessioncontext.attributes.creationdate`` is converted to a timestamp;
* ``element_at(addendum, 'k')`` becomes a struct field;
* constructs that have no Athena equivalent raise :class:`UnsupportedSqlError` naming them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from trailhound.errors import UnsupportedSqlError
from trailhound.sql.translate import parse_trino

# Columns of the documented table, in its order (partition column excluded).
ATHENA_COLUMNS: tuple[str, ...] = (
    "eventversion", "useridentity", "eventtime", "eventsource", "eventname", "awsregion",
    "sourceipaddress", "useragent", "errorcode", "errormessage", "requestparameters",
    "responseelements", "additionaleventdata", "requestid", "eventid", "readonly", "resources",
    "eventtype", "apiversion", "recipientaccountid", "serviceeventdetails", "sharedeventid",
    "vpcendpointid", "vpcendpointaccountid", "eventcategory", "addendum",
    "sessioncredentialfromconsole", "edgedevicedetails", "tlsdetails",
)
# Lake map<string,string> columns stored as raw JSON text in Athena.
JSON_TEXT_COLUMNS = frozenset({"requestparameters", "responseelements", "additionaleventdata",
                               "serviceeventdetails", "edgedevicedetails"})
# Lake map column that is a struct in Athena: map key -> struct field.
ADDENDUM_FIELDS = {"reason": "reason", "updatedfields": "updatedfields",
                   "originalrequestid": "originalrequestid", "originaleventid": "originaleventid"}
LAKE_ONLY_COLUMNS = frozenset({"eventjson", "eventjsonchecksum", "managementevent", "annotation",
                               "insightdetails"})
# userIdentity fields of the Lake schema that the documented Athena struct does not have.
ABSENT_IDENTITY_FIELDS = frozenset({"sourceidentity", "ec2issuedinvpc", "inscopeof", "identityprovider"})
PARTITION_FORMAT = "%Y/%m/%d"
DEFAULT_DELIVERY_SLACK = dt.timedelta(days=1)

# Fixed expressions of the Lake-shaped view (constant text, parsed once; no values in them).
_VIEW_EXPRESSIONS = {
    "eventtime": "CAST(from_iso8601_timestamp(eventtime) AS TIMESTAMP)",
    "readonly": "readonly = 'true'",
}
# Row fields of ``resources``, in each table's order (UNNEST names them by position).
LAKE_RESOURCE_FIELDS = ("accountid", "type", "arn", "arnprefix")
ATHENA_RESOURCE_FIELDS = ("arn", "accountid", "type")
_ALLOWED_JSON_PARENTS = (exp.Alias, exp.Select, exp.Is, exp.Group, exp.Ordered, exp.Paren)
_JSON_READERS = frozenset({"json_extract_scalar", "json_extract"})


@dataclass(frozen=True)
class AthenaTable:
    """Where the CloudTrail table lives and how it is partitioned."""

    table: str
    database: str | None = None
    partition_column: str = "timestamp"
    # Log files land in the folder of their delivery day: an event can sit in a later day's
    # partition than its eventTime (late delivery, events just before midnight).
    delivery_slack: dt.timedelta = DEFAULT_DELIVERY_SLACK

    def qualified(self) -> exp.Table:
        return exp.Table(this=exp.to_identifier(self.table),
                         db=exp.to_identifier(self.database) if self.database else None)


def to_athena(sql: str, table: AthenaTable, *,
              window: tuple[dt.datetime, dt.datetime] | None = None, pretty: bool = True) -> str:
    """Athena SQL for bound Lake-dialect ``sql`` whose event table is ``table``."""
    tree = rewrite(parse_trino(sql), table, window=window)
    return tree.sql(dialect="athena", pretty=pretty, comments=False)


def rewrite(tree: exp.Expression, table: AthenaTable, *,
            window: tuple[dt.datetime, dt.datetime] | None = None) -> exp.Expression:
    """Rewrite the Lake-dialect ``tree`` (a copy is returned) for the Athena CloudTrail table."""
    tree = tree.copy()
    _rewrite_unnest_resources(tree)
    aliases = _defined_names(tree)
    _reject_absent(tree, aliases)
    tree = _rewrite_maps(tree)
    tree = _rewrite_creationdate(tree)
    _check_json_columns(tree)
    columns = _referenced_columns(tree)
    refs = _event_table_refs(tree, table)
    if not refs:
        raise UnsupportedSqlError(
            f"the SQL does not read the event table {table.qualified().sql(dialect='athena')} "
            "(write FROM $EDS_ID)")
    for ref in refs:
        ref.replace(_lake_view(ref, table, columns, _partition_range(ref, table, window)))
    return tree


# -- checks -----------------------------------------------------------------------------------
def _defined_names(tree: exp.Expression) -> set[str]:
    """Output aliases, CTE names and derived-table column names defined by the query itself."""
    names: set[str] = set()
    for node in tree.find_all(exp.Alias, exp.TableAlias):
        if node.alias:
            names.add(node.alias.lower())
        if isinstance(node, exp.TableAlias):
            names.update(c.name.lower() for c in node.columns)
    return names


def _path(node: exp.Expression) -> list[str] | None:
    """Identifier parts of a column reference or struct path (``a.b.c.d.e``), else None."""
    if isinstance(node, exp.Column):
        return [p.name.lower() for p in node.parts]
    if isinstance(node, exp.Dot):
        left = _path(node.this)
        if left is None:
            return None
        return left + [node.expression.name.lower()]
    return None


def _paths(tree: exp.Expression) -> Iterable[tuple[exp.Expression, list[str]]]:
    for node in tree.find_all(exp.Column, exp.Dot):
        if isinstance(node.parent, exp.Dot) and node.parent.this is node:
            continue  # the longest path is reported once, from its outermost node
        parts = _path(node)
        if parts:
            yield node, parts


def _reject_absent(tree: exp.Expression, aliases: set[str]) -> None:
    for node, parts in _paths(tree):
        for part in parts:
            if part in LAKE_ONLY_COLUMNS and part not in aliases:
                raise UnsupportedSqlError(
                    f"column {part} (in {node.sql(dialect='trino')}) does not exist in the Athena CloudTrail "
                    "table; portable SQL must not use eventJson, managementEvent, annotation or insightDetails")
        if "useridentity" in parts:
            after = parts[parts.index("useridentity") + 1:]
            missing = [p for p in after if p in ABSENT_IDENTITY_FIELDS]
            if missing:
                raise UnsupportedSqlError(
                    f"{node.sql(dialect='trino')}: userIdentity has no field {missing[0]} in the Athena "
                    "CloudTrail table")
        if parts[-1] == "arnprefix":
            raise UnsupportedSqlError(
                f"{node.sql(dialect='trino')}: resources have no arnPrefix in the Athena CloudTrail table; use arn")


def _check_json_columns(tree: exp.Expression) -> None:
    for col in tree.find_all(exp.Column):
        if col.name.lower() not in JSON_TEXT_COLUMNS or len(col.parts) > 2:
            continue
        parent = col.parent
        if isinstance(parent, _ALLOWED_JSON_PARENTS) or (
                parent is not None and (_func_name(parent) or "") in _JSON_READERS
                and col.arg_key == "expressions" and parent.expressions and parent.expressions[0] is col):
            continue
        shown = parent.sql(dialect="trino") if parent is not None else col.sql(dialect="trino")
        raise UnsupportedSqlError(
            f"{shown}: {col.name} is JSON text in the Athena CloudTrail table, not a map; "
            f"read keys with element_at({col.name}, 'key')")


def _rewrite_unnest_resources(tree: exp.Expression) -> None:
    """``UNNEST(resources) AS r(accountid, type, arn, arnprefix)`` names Lake's row fields by
    position; Athena's rows are (arn, accountid, type): reorder the names, drop arnPrefix's."""
    for unnest in list(tree.find_all(exp.Unnest)):
        arrays = unnest.expressions
        on_resources = [a for a in arrays if isinstance(a, exp.Column) and a.name.lower() == "resources"]
        if not on_resources:
            continue
        if len(arrays) != 1:
            raise UnsupportedSqlError(
                f"{unnest.sql(dialect='trino')}: unnest resources on its own in the Athena CloudTrail table")
        alias = unnest.args.get("alias")
        if not isinstance(alias, exp.TableAlias):
            continue
        names = list(alias.columns)
        if len(names) < len(LAKE_RESOURCE_FIELDS):
            continue  # no positional names (or not Lake's row): fields keep their own names
        fields, extra = names[:len(LAKE_RESOURCE_FIELDS)], names[len(LAKE_RESOURCE_FIELDS):]
        by_field = dict(zip(LAKE_RESOURCE_FIELDS, fields, strict=True))
        dropped = by_field["arnprefix"].name.lower()
        for col in tree.find_all(exp.Column):
            if col.name.lower() == dropped and (not col.table or col.table.lower() == alias.name.lower()):
                raise UnsupportedSqlError(
                    f"{col.sql(dialect='trino')}: resources have no arnPrefix in the Athena CloudTrail table; use arn")
        alias.set("columns", [by_field[f].copy() for f in ATHENA_RESOURCE_FIELDS] + [e.copy() for e in extra])


# -- maps and timestamps ------------------------------------------------------------------------
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(key: str) -> str:
    """A Trino JSON path for one top-level key: ``$.key`` or ``$["key-with.odd chars"]``."""
    if '"' in key or "\\" in key:
        raise UnsupportedSqlError(f"map key {key!r} cannot be written as an Athena JSON path")
    return f"$.{key}" if _SIMPLE_KEY.match(key) else f'$["{key}"]'


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def json_value_text(column: exp.Expression, key: str) -> exp.Expression:
    """Lake's map value for ``key`` from JSON text: scalar text, or JSON text of an object/array.

    ``coalesce(json_extract_scalar(m, p), nullif(json_format(json_extract(m, p)), 'null'))``:
    ``json_extract_scalar`` is NULL for objects and arrays, whose JSON text comes from the second
    branch; a JSON ``null`` stays NULL.
    """
    path = exp.Literal.string(json_path(key))
    scalar = _fn("json_extract_scalar", column.copy(), path.copy())
    nested = exp.Nullif(this=_fn("json_format", _fn("json_extract", column.copy(), path.copy())),
                        expression=exp.Literal.string("null"))
    return exp.Coalesce(this=scalar, expressions=[nested])


def _func_name(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return None


def _map_lookup(node: exp.Expression) -> tuple[exp.Column, exp.Expression] | None:
    """(map column, key) of ``element_at(m, k)`` or ``m[k]`` on a Lake map column, else None."""
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        target, key = node.this, node.expressions[0]
    elif isinstance(node, exp.Anonymous) and node.name.lower() == "element_at" and len(node.expressions) == 2:
        target, key = node.expressions
    else:
        return None
    if not isinstance(target, exp.Column):
        return None
    name = target.name.lower()
    if name not in JSON_TEXT_COLUMNS and name != "addendum":
        return None
    return target, key


def _rewrite_maps(tree: exp.Expression) -> exp.Expression:
    def fix(node: exp.Expression) -> exp.Expression:
        found = _map_lookup(node)
        if found is None:
            return node
        column, key_node = found
        if not (isinstance(key_node, exp.Literal) and key_node.is_string):
            raise UnsupportedSqlError(
                f"{node.sql(dialect='trino')}: the key of a {column.name} lookup must be a string literal")
        key = key_node.this
        if column.name.lower() == "addendum":
            field = ADDENDUM_FIELDS.get(key.lower())
            if field is None:
                raise UnsupportedSqlError(
                    f"{node.sql(dialect='trino')}: addendum in the Athena CloudTrail table only has "
                    + ", ".join(sorted(ADDENDUM_FIELDS)))
            return exp.Dot(this=column.copy(), expression=exp.to_identifier(field))
        return json_value_text(column, key)

    return tree.transform(fix, copy=False)


def _iso_timestamp(node: exp.Expression) -> exp.Expression:
    return exp.Cast(this=_fn("from_iso8601_timestamp", node), to=exp.DataType.build("TIMESTAMP"))


def _rewrite_creationdate(tree: exp.Expression) -> exp.Expression:
    targets = [node for node, parts in _paths(tree)
               if parts[-3:] == ["sessioncontext", "attributes", "creationdate"]]
    for node in targets:
        bare = isinstance(node.parent, exp.Select) and node.arg_key == "expressions"
        new: exp.Expr = _iso_timestamp(node.copy())
        if bare:
            new = exp.alias_(new, "creationdate")
        node.replace(new)
    return tree


# -- the event table ----------------------------------------------------------------------------
def _referenced_columns(tree: exp.Expression) -> list[str]:
    wanted: set[str] = set()
    for _, parts in _paths(tree):
        wanted.update(p for p in parts if p in ATHENA_COLUMNS)
    for star in tree.find_all(exp.Star):
        if isinstance(star.parent, exp.Select) or (isinstance(star.parent, exp.Column)
                                                   and isinstance(star.parent.parent, exp.Select)):
            wanted.update(ATHENA_COLUMNS)
    return [c for c in ATHENA_COLUMNS if c in wanted] or ["eventid"]


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias.lower() for cte in tree.find_all(exp.CTE) if cte.alias}


def _event_table_refs(tree: exp.Expression, table: AthenaTable) -> list[exp.Table]:
    ctes = _cte_names(tree)
    out = []
    for ref in tree.find_all(exp.Table):
        if not isinstance(ref.this, exp.Identifier):
            continue  # UNNEST and table functions
        if ref.name.lower() != table.table.lower():
            continue
        if ref.db:
            if table.database is None or ref.db.lower() != table.database.lower():
                continue
        elif ref.name.lower() in ctes:
            continue
        out.append(ref)
    return out


def _lake_view(ref: exp.Table, table: AthenaTable, columns: list[str],
               partitions: tuple[str, str | None]) -> exp.Subquery:
    projections: list[exp.Expr] = []
    for name in columns:
        if name in _VIEW_EXPRESSIONS:
            projections.append(exp.alias_(sqlglot.parse_one(_VIEW_EXPRESSIONS[name], read="trino"), name))
        else:
            projections.append(exp.column(name))
    part = exp.column(table.partition_column, quoted=True)
    low, high = partitions
    cond: exp.Expression
    if high is None:
        cond = exp.GTE(this=part, expression=exp.Literal.string(low))
    else:
        cond = exp.Between(this=part, low=exp.Literal.string(low), high=exp.Literal.string(high))
    view = exp.select(*projections).from_(table.qualified()).where(cond)
    alias = ref.alias or table.table
    return exp.Subquery(this=view, alias=exp.TableAlias(this=exp.to_identifier(alias)))


# -- partition range ----------------------------------------------------------------------------
def _partition_range(ref: exp.Table, table: AthenaTable,
                     window: tuple[dt.datetime, dt.datetime] | None) -> tuple[str, str | None]:
    low, high = _time_bounds(ref)
    if low is None and window is not None:
        low = window[0]
        high = high or window[1]
    if low is None:
        where = ref.find_ancestor(exp.Select)
        shown = where.sql(dialect="trino")[:120] if where else ref.sql(dialect="trino")
        raise UnsupportedSqlError(
            f"the SELECT reading the event table has no lower bound on eventTime, so Athena would scan the "
            f"whole bucket: filter eventTime >= $START_TIME there ({shown})")
    lo = _utc(low).strftime(PARTITION_FORMAT)
    hi = None if high is None else (_utc(high) + table.delivery_slack).strftime(PARTITION_FORMAT)
    return lo, hi


def _conditions(ref: exp.Table) -> list[exp.Expr]:
    select = ref.find_ancestor(exp.Select)
    if select is None:
        return []
    conds: list[exp.Expr] = []
    where = select.args.get("where")
    if where is not None:
        conds.extend(where.this.flatten() if isinstance(where.this, exp.And) else [where.this])
    join = ref.find_ancestor(exp.Join)
    if join is not None and join.find_ancestor(exp.Select) is select and join.args.get("on") is not None:
        on = join.args["on"]
        conds.extend(on.flatten() if isinstance(on, exp.And) else [on])
    return conds


def _is_eventtime(node: exp.Expression, qualifiers: set[str]) -> bool:
    if not isinstance(node, exp.Column) or node.name.lower() != "eventtime":
        return False
    return not node.table or node.table.lower() in qualifiers


def _time_bounds(ref: exp.Table) -> tuple[dt.datetime | None, dt.datetime | None]:
    qualifiers = {ref.name.lower()} | ({ref.alias.lower()} if ref.alias else set())
    lows: list[dt.datetime] = []
    highs: list[dt.datetime] = []
    for cond in _conditions(ref):
        if isinstance(cond, exp.Between) and _is_eventtime(cond.this, qualifiers):
            lo, hi = eval_timestamp(cond.args["low"]), eval_timestamp(cond.args["high"])
            if lo:
                lows.append(lo)
            if hi:
                highs.append(hi)
            continue
        if not isinstance(cond, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ)):
            continue
        left, right = cond.this, cond.expression
        if _is_eventtime(left, qualifiers):
            value, lower = eval_timestamp(right), isinstance(cond, (exp.GT, exp.GTE))
        elif _is_eventtime(right, qualifiers):
            value, lower = eval_timestamp(left), isinstance(cond, (exp.LT, exp.LTE))
        else:
            continue
        if value is None:
            continue
        if isinstance(cond, exp.EQ):
            lows.append(value)
            highs.append(value)
        elif lower:
            lows.append(value)
        else:
            highs.append(value)
    return (max(lows) if lows else None, min(highs) if highs else None)


_UNITS = {"second": "seconds", "minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}


def eval_timestamp(node: exp.Expression) -> dt.datetime | None:
    """Value of a constant timestamp expression (literal, cast, date_add of one), else None."""
    if isinstance(node, (exp.Cast, exp.TryCast)) and node.to.is_type(*exp.DataType.TEMPORAL_TYPES):
        return eval_timestamp(node.this)
    if isinstance(node, exp.FromISO8601Timestamp):
        return eval_timestamp(node.this)
    name = _func_name(node) if isinstance(node, exp.Anonymous) else None
    if name == "from_iso8601_timestamp" and len(node.expressions) == 1:
        return eval_timestamp(node.expressions[0])
    if name == "date_add" and len(node.expressions) == 3:
        unit_node, amount_node, base_node = node.expressions
        if not (isinstance(unit_node, exp.Literal) and unit_node.is_string):
            return None
        return _shift(eval_timestamp(base_node), unit_node.this, amount_node)
    if isinstance(node, exp.Paren):
        return eval_timestamp(node.this)
    if isinstance(node, exp.Literal) and node.is_string:
        return parse_time_text(node.this)
    if isinstance(node, exp.DateAdd):
        return _shift(eval_timestamp(node.this), node.text("unit"), node.expression)
    return None


def _shift(base: dt.datetime | None, unit: str, amount: exp.Expression) -> dt.datetime | None:
    unit = unit.lower().strip("'")
    sign = 1
    if isinstance(amount, exp.Neg):
        sign, amount = -1, amount.this
    if base is None or unit not in _UNITS or not (isinstance(amount, exp.Literal) and amount.is_int):
        return None
    return base + dt.timedelta(**{_UNITS[unit]: sign * int(amount.this)})


_TIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?( ?(Z|UTC|[+-]\d{2}:?\d{2}))?$")


def parse_time_text(text: str) -> dt.datetime | None:
    """Parse the timestamp text forms Trino and CloudTrail use; naive results are UTC."""
    text = text.strip()
    if not _TIME_TEXT.match(text):
        return None
    text = re.sub(r" ?(Z|UTC)$", "+00:00", text)
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # Python keeps microseconds
        text = text.replace(frac.group(0), "." + frac.group(1)[:6])
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return _utc(value)


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


__all__ = ["ATHENA_COLUMNS", "AthenaTable", "JSON_TEXT_COLUMNS", "eval_timestamp", "json_path", "json_value_text",
           "parse_time_text", "rewrite", "to_athena"]
