"""Placeholders and the one function that turns a value into SQL text.

Detection and investigation SQL is written in CloudTrail Lake's dialect with placeholders:

* ``$EDS_ID`` — the event table; replaced by the engine with a validated identifier;
* ``$START_TIME`` / ``$END_TIME`` — the window, filled by the runner from ``datetime``s;
* any other ``$UPPER_NAME`` — a named parameter (``$ACTOR_ARN``, ``$SOURCE_IP`` ...).

Nothing user- or attacker-controlled is pasted into SQL text except through
:func:`sql_literal`, which produces a quoted literal or rejects the value. Placeholders are
found by a tokenizer that skips string literals, quoted identifiers and comments, so a ``$X``
inside a literal is never substituted.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Mapping
from typing import Any

from trailhound.errors import UnsafeValueError, UserInputError

TABLE_PLACEHOLDER = "EDS_ID"
_PLACEHOLDER = re.compile(r"\$([A-Z][A-Z0-9_]*)")
# Characters that have no business in a CloudTrail value and that some engines mishandle:
# control characters other than tab/newline/carriage return, and lone surrogates (not UTF-8).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BIGINT = (-(2**63), 2**63 - 1)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*){0,2}$")


def sql_literal(value: Any) -> str:
    """Return ``value`` as a Trino SQL literal, or raise :class:`UnsafeValueError`.

    Strings are single-quoted with embedded quotes doubled (the only escape Trino knows;
    backslashes are ordinary characters); control characters and lone surrogates are
    rejected. Datetimes become ``TIMESTAMP 'YYYY-MM-DD HH:MM:SS.mmm'`` in UTC (naive ones are
    taken as UTC), dates ``DATE '...'``. Lists become ``ARRAY[...]`` of literals. Booleans,
    bigint-range ints, finite floats (as DOUBLE: ``1.5E0``) and finite decimals are written as
    such.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        if not _BIGINT[0] <= value <= _BIGINT[1]:
            raise UnsafeValueError(f"parameter value {value} does not fit a bigint")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsafeValueError(f"parameter value {value!r} is not a finite number")
        text = repr(value)
        # A bare 1.5 is a DECIMAL in Trino; the exponent makes it the DOUBLE a float is.
        return text if "e" in text else text + "E0"
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise UnsafeValueError(f"parameter value {value!r} is not a finite number")
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return "TIMESTAMP '" + value.isoformat(sep=" ", timespec="milliseconds") + "'"
    if isinstance(value, dt.date):
        return "DATE '" + value.isoformat() + "'"
    if isinstance(value, str):
        bad = _FORBIDDEN.search(value)
        if bad:
            raise UnsafeValueError(
                f"parameter value {value[:40]!r} contains the character U+{ord(bad.group()):04X}; "
                "expected printable text"
            )
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise UnsafeValueError(f"cannot use a {type(value).__name__} as a SQL parameter value")


def sql_identifier(name: str) -> str:
    """Any name as one quoted SQL identifier (embedded double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def table_identifier(name: str) -> str:
    """Validate a table reference (``eds-id``, ``db.table``, ``catalog.db.table``) and quote it."""
    if not _IDENTIFIER.match(name):
        raise UserInputError(f"table {name!r} is not a valid table name")
    return ".".join(part if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", part) else sql_identifier(part)
                    for part in name.split("."))


def _segments(sql: str) -> list[tuple[bool, str]]:
    """Split SQL into (is_code, text) segments; strings, quoted identifiers, comments are not code."""
    out: list[tuple[bool, str]] = []
    i, n, start = 0, len(sql), 0
    while i < n:
        c = sql[i]
        end = None
        if c in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            end = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            end = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            end = n if j < 0 else j + 2
        if end is None:
            i += 1
            continue
        if start < i:
            out.append((True, sql[start:i]))
        out.append((False, sql[i:end]))
        i = start = end
    if start < n:
        out.append((True, sql[start:]))
    return out


def placeholders(sql: str) -> set[str]:
    """Names of the ``$PLACEHOLDERS`` used in the code (not in literals or comments) of ``sql``."""
    names: set[str] = set()
    for is_code, text in _segments(sql):
        if is_code:
            names.update(_PLACEHOLDER.findall(text))
    return names


def bind(sql: str, params: Mapping[str, Any], *, table: str | None = None) -> str:
    """Fill every placeholder of ``sql``; a placeholder without a value is an error.

    ``params`` keys are case-insensitive (``actor_arn`` fills ``$ACTOR_ARN``); parameters the
    SQL does not use are ignored (a runner passes the window to every detection).
    ``table`` fills ``$EDS_ID`` as an identifier (already validated/quoted by the engine).
    Placeholders inside string literals, quoted identifiers and comments are left alone, and
    substituted text is never scanned again, so a value cannot introduce a placeholder.
    """
    values = {k.upper(): v for k, v in params.items()}
    missing = sorted(n for n in placeholders(sql) if n != TABLE_PLACEHOLDER and n not in values)
    if missing:
        raise UserInputError("missing SQL parameter(s): " + ", ".join("$" + m for m in missing))

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == TABLE_PLACEHOLDER:
            if table is None:
                raise UserInputError("no table given for $EDS_ID")
            return table
        return sql_literal(values[name])

    return "".join(_PLACEHOLDER.sub(fill, text) if is_code else text for is_code, text in _segments(sql))
