"""Plumbing shared by the record stores (containment, investigation, scheduler state).

Each store keeps its own document shape, error classes and messages; this module holds what they
all do alike: a JSON file loaded with a one-line error naming it and replaced atomically (temp
file + fsync + rename), and DynamoDB calls through an injected low-level client whose failures
become the store's one-line error, with optimistic-version conditional puts and paged scans.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trailhound.errors import UserInputError

# --- JSON file ---------------------------------------------------------------------------------------

_CORRUPT: Any = object()  # ``empty`` default: an empty file is as bad as any other invalid JSON


def load_json(path: Path, *, corrupt: Callable[[Exception], str], missing: Any, empty: Any = _CORRUPT) -> Any:
    """The parsed content of ``path``; ``missing`` when there is no such file, ``empty`` when it is
    empty (if given). A file that cannot be read or parsed raises ``UserInputError(corrupt(exc))``."""
    if not path.exists():
        return missing
    try:
        text = path.read_text(encoding="utf-8")
        if text == "" and empty is not _CORRUPT:
            return empty
        return json.loads(text)
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise UserInputError(corrupt(exc)) from exc


def write_json_atomic(path: Path, data: Any, *, indent: int | None = None, sort_keys: bool = False,
                      ensure_ascii: bool = True, final_newline: bool = False) -> None:
    """Replace ``path`` with ``data`` as JSON: written to a temp file beside it, synced, renamed over it.

    On any failure (serialisation included) the temp file is removed, the old file is left as it
    was and the exception propagates (the caller maps ``OSError`` to its own error if it wants).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
            if final_newline:
                fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def stored_version(document: Mapping[str, Any] | None) -> int | None:
    """The ``version`` of a stored document (0 when it has none); ``None`` when there is no document."""
    return int(document.get("version") or 0) if document else None


# --- DynamoDB ----------------------------------------------------------------------------------------

AWS_ERRORS = (ClientError, BotoCoreError)
"""What a botocore client call raises when AWS (or the way to it) fails."""

ErrorFactory = Callable[[Exception], Exception]
"""Builds the store's one-line error from the AWS failure."""


def aws_error_code(exc: BaseException) -> str:
    """AWS's error code of a ``ClientError`` (``ConditionalCheckFailedException``...), else the class name."""
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return str(code or type(exc).__name__)


def aws_error_text(exc: BaseException) -> str:
    """``Code: message`` of a ``ClientError``, else the exception's text; always one line."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: " + " ".join(str(err.get("Message", "")).split())
    return " ".join(str(exc).split())


def is_condition_failure(exc: BaseException) -> bool:
    """A conditional write refused because the condition did not hold."""
    return isinstance(exc, ClientError) and aws_error_code(exc) == "ConditionalCheckFailedException"


def put_item(client: Any, table: str, item: dict[str, Any], *, error: ErrorFactory) -> None:
    """An unconditional ``PutItem`` of a typed item."""
    try:
        client.put_item(TableName=table, Item=item)
    except AWS_ERRORS as exc:
        raise error(exc) from exc


def put_versioned(client: Any, table: str, item: dict[str, Any], *, key: str, expected: int | None,
                  conflict: Callable[[], Exception], error: ErrorFactory) -> None:
    """``PutItem`` only if no item has that ``key`` yet (``expected`` None) or its ``version``
    attribute is ``expected``; else raise ``conflict()``."""
    if expected is None:
        condition: dict[str, Any] = {"ConditionExpression": f"attribute_not_exists({key})"}
    else:
        condition = {"ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"},
                     "ExpressionAttributeValues": {":v": {"N": str(expected)}}}
    try:
        client.put_item(TableName=table, Item=item, **condition)
    except AWS_ERRORS as exc:
        if is_condition_failure(exc):
            raise conflict() from exc
        raise error(exc) from exc


def get_item(client: Any, table: str, key: dict[str, Any], *, error: ErrorFactory) -> dict[str, Any] | None:
    """The typed item under ``key`` (a consistent read), or None."""
    try:
        resp = client.get_item(TableName=table, Key=key, ConsistentRead=True)
    except AWS_ERRORS as exc:
        raise error(exc) from exc
    return resp.get("Item") or None


def paged_items(client: Any, operation: str, request: Mapping[str, Any], *,
                error: ErrorFactory) -> Iterator[dict[str, Any]]:
    """Every typed item of a ``scan`` or ``query`` (``operation``), page after page."""
    kwargs = dict(request)
    call = getattr(client, operation)
    while True:
        try:
            page = call(**kwargs)
        except AWS_ERRORS as exc:
            raise error(exc) from exc
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
