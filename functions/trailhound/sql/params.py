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
import math
import re
from collections.abc import Mapping
from typing import Any

from trailhound.errors import UnsafeValueError, UserInputError

TABLE_PLACEHOLDER = "EDS_ID"
_PLACEHOLDER = re.compile(r"\$([A-Z][A-Z0-9_]*)")
# Characters that have no business in a CloudTrail value and that some engines mishandle.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*){0,2}$")


def sql_literal(value: Any) -> str:
    """Return ``value`` as a Trino SQL literal, or raise :class:`UnsafeValueError`.

    Strings are single-quoted with embedded quotes doubled (the only escape Trino knows);
    control characters are rejected. Datetimes become ``TIMESTAMP '...'`` in UTC. Lists
    become ``ARRAY[...]`` of literals. Booleans, ints and finite floats are written as such.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsafeValueError(f"parameter value {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return "TIMESTAMP '" + value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "'"
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            raise UnsafeValueError(
                f"parameter value {value[:40]!r} contains a control character; expected printable text"
            )
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise UnsafeValueError(f"cannot use a {type(value).__name__} as a SQL parameter value")


def table_identifier(name: str) -> str:
    """Validate a table reference (``eds-id``, ``db.table``, ``catalog.db.table``) and quote it."""
    if not _IDENTIFIER.match(name):
        raise UserInputError(f"table {name!r} is not a valid table name")
    return ".".join(part if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", part) else f'"{part}"'
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
    """Fill every placeholder of ``sql``. Unknown or missing placeholders are errors.

    ``params`` keys are case-insensitive (``actor_arn`` fills ``$ACTOR_ARN``).
    ``table`` fills ``$EDS_ID`` as an identifier (already validated/quoted by the engine).
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
