"""What the CloudTrail Lake and Athena engines share: retries, polling, AWS errors, typed values.

Both services answer with strings. Values are converted back to the output contract's types
from, in order: an explicit ``types`` hint, the engine's own column metadata (Athena), what the
SQL says the column is (``count(*)``, ``min(eventTime)``, ``array_agg(...)``), and the contract's
column-name conventions (``event_ids``, ``first_seen``/``last_seen``, ``n_*``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from sqlglot import exp
from sqlglot.errors import SqlglotError

from trailhound.errors import SqlError, StoreError, TrailHoundError
from trailhound.sql.athena import parse_time_text

RETRYABLE_CODES = frozenset({
    "MaxConcurrentQueriesException",  # CloudTrail Lake: 10 queued/running queries per Region
    "TooManyRequestsException",  # Athena: concurrent query / API rate limit
    "ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequests",
    "ServiceUnavailableException", "ServiceUnavailable", "InternalServerException",
    "InternalFailure", "InternalServiceError", "SlowDown",
})


# The service refused the SQL itself: a SqlError, so the detection runner names the detection.
SQL_ERROR_CODES = frozenset({"InvalidQueryStatementException"})


class RemoteSqlError(SqlError):
    """The engine rejected the SQL text (names the store and AWS's error code)."""


class Kind(enum.StrEnum):
    VARCHAR = "varchar"
    BIGINT = "bigint"
    DOUBLE = "double"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    DATE = "date"
    ARRAY = "array"
    OTHER = "other"  # maps, rows, json: kept as the engine's text


_KIND_ALIASES = {
    "string": Kind.VARCHAR, "varchar": Kind.VARCHAR, "char": Kind.VARCHAR, "json": Kind.VARCHAR,
    "bigint": Kind.BIGINT, "integer": Kind.BIGINT, "int": Kind.BIGINT, "smallint": Kind.BIGINT,
    "tinyint": Kind.BIGINT, "double": Kind.DOUBLE, "float": Kind.DOUBLE, "real": Kind.DOUBLE,
    "decimal": Kind.DECIMAL, "boolean": Kind.BOOLEAN, "bool": Kind.BOOLEAN,
    "timestamp": Kind.TIMESTAMP, "timestamp with time zone": Kind.TIMESTAMP, "date": Kind.DATE,
    "array": Kind.ARRAY, "map": Kind.OTHER, "row": Kind.OTHER, "struct": Kind.OTHER,
}


def kind_of(type_name: str | Kind) -> Kind:
    """Kind for an engine or hint type name (``varchar``, ``timestamp(3)``, ``array(varchar)``)."""
    if isinstance(type_name, Kind):
        return type_name
    base = re.split(r"[(<]", type_name.strip().lower(), maxsplit=1)[0].strip()
    return _KIND_ALIASES.get(base, Kind.VARCHAR if not base else Kind.OTHER)


def contract_kind(column: str) -> Kind | None:
    """Types the output contract fixes by column name."""
    name = column.lower()
    if name == "event_ids":
        return Kind.ARRAY
    if name in ("first_seen", "last_seen"):
        return Kind.TIMESTAMP
    if name.startswith("n_"):
        return Kind.BIGINT
    return None


# -- converting text back to values -------------------------------------------------------------
def parse_array(text: str) -> list[Any]:
    """``[a, b]`` (how Lake and Athena render arrays) or a JSON array → list of strings."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        return [text]
    if body[1:2] == '"':
        try:
            loaded = json.loads(body)
            if isinstance(loaded, list):
                return loaded
        except json.JSONDecodeError:
            pass
    inner = body[1:-1].strip()
    if not inner:
        return []
    return [None if item == "null" else item for item in inner.split(", ")]


def parse_timestamp(text: str) -> dt.datetime:
    """Engine timestamp text → naive UTC datetime (what the local store returns)."""
    value = parse_time_text(text)
    if value is None:
        raise ValueError(f"not a timestamp: {text!r}")
    return value.replace(tzinfo=None)


def convert(text: str | None, kind: Kind) -> Any:
    """One value from the engine's text to ``kind``; text that does not parse is kept as text."""
    if text is None:
        return None
    try:
        if kind is Kind.VARCHAR or kind is Kind.OTHER:
            return text
        if kind is Kind.ARRAY:
            return parse_array(text)
        if kind is Kind.TIMESTAMP:
            return parse_timestamp(text)
        if kind is Kind.DATE:
            return dt.date.fromisoformat(text.strip())
        if kind is Kind.BOOLEAN:
            low = text.strip().lower()
            if low in ("true", "false"):
                return low == "true"
            return text
        if kind is Kind.BIGINT:
            return int(text)
        if kind is Kind.DOUBLE:
            return float(text)
        if kind is Kind.DECIMAL:
            return decimal.Decimal(text)
    except (ValueError, ArithmeticError):
        return text
    return text


# -- what the SQL says about its columns ----------------------------------------------------------
_BIGINT_NODES = (exp.Count, exp.CountIf, exp.ApproxDistinct, exp.ArraySize, exp.Length, exp.DateDiff,
                 exp.StrPosition)
_ARRAY_NODES = (exp.ArrayAgg, exp.Array, exp.Split, exp.ArrayDistinct, exp.ArrayConcat)
_BOOLEAN_NODES = (exp.Predicate, exp.Connector, exp.Not, exp.RegexpLike, exp.ArrayContains, exp.Boolean)
_TIMESTAMP_NODES = (exp.DateAdd, exp.CurrentTimestamp, exp.FromISO8601Timestamp, exp.StrToTime)
_COLUMN_KINDS = {"eventtime": Kind.TIMESTAMP, "creationdate": Kind.TIMESTAMP, "readonly": Kind.BOOLEAN,
                 "managementevent": Kind.BOOLEAN}


_NAMED_KINDS = {  # functions the Lake parser keeps as plain calls (see sql/gaps.py OWN_FUNCTIONS)
    **dict.fromkeys(("cardinality", "strpos", "approx_distinct", "date_diff", "json_size",
                     "json_array_length", "to_unixtime"), Kind.BIGINT),
    **dict.fromkeys(("split", "array_distinct", "array_sort", "regexp_extract_all", "map_values"), Kind.ARRAY),
    **dict.fromkeys(("contains", "regexp_like", "any_match", "all_match", "none_match",
                     "json_array_contains"), Kind.BOOLEAN),
    **dict.fromkeys(("date_add", "date_trunc", "from_iso8601_timestamp", "from_unixtime"), Kind.TIMESTAMP),
}


def _expr_kind(node: exp.Expr) -> Kind | None:
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name in ("max_by", "min_by") and node.expressions:
            return Kind.ARRAY if len(node.expressions) == 3 else _expr_kind(node.expressions[0])
        return _NAMED_KINDS.get(name, Kind.VARCHAR)
    if isinstance(node, exp.Alias):
        return _expr_kind(node.this)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return kind_of(node.to.sql(dialect="trino"))
    if isinstance(node, _BIGINT_NODES):
        return Kind.BIGINT
    if isinstance(node, _ARRAY_NODES):
        return Kind.ARRAY
    if isinstance(node, _TIMESTAMP_NODES):
        return Kind.TIMESTAMP
    if isinstance(node, (exp.Sum, exp.Avg)):
        return Kind.DOUBLE if isinstance(node, exp.Avg) else _expr_kind(node.this) or Kind.DOUBLE
    if isinstance(node, (exp.Min, exp.Max, exp.AnyValue, exp.ArgMax, exp.ArgMin, exp.Paren)):
        return _expr_kind(node.this)
    if isinstance(node, exp.Coalesce):
        return _expr_kind(node.this)
    if isinstance(node, (exp.If, exp.Case)):
        branch = node.args.get("true") if isinstance(node, exp.If) else (
            node.args["ifs"][0].args.get("true") if node.args.get("ifs") else None)
        return _expr_kind(branch) if branch is not None else None
    if isinstance(node, _BOOLEAN_NODES):
        return Kind.BOOLEAN
    if isinstance(node, exp.Literal):
        return Kind.VARCHAR if node.is_string else (Kind.BIGINT if node.is_int else Kind.DOUBLE)
    if isinstance(node, (exp.Column, exp.Dot)):
        return _COLUMN_KINDS.get(node.name.lower(), Kind.VARCHAR)
    return None


def infer_kinds(sql: str) -> dict[str, Kind]:
    """Column name → kind, from the outermost SELECT of Lake-dialect ``sql`` (best effort)."""
    try:
        from trailhound.sql.translate import parse_trino

        tree = parse_trino(sql)
    except (TrailHoundError, SqlglotError):
        return {}
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return {}
    out: dict[str, Kind] = {}
    for projection in select.expressions:
        name = projection.alias_or_name
        kind = _expr_kind(projection)
        if name and kind is not None:
            out[name.lower()] = kind
    return out


def select_names(sql: str) -> list[str]:
    """Output column names of the outermost SELECT (for results with no rows)."""
    try:
        from trailhound.sql.translate import parse_trino

        tree = parse_trino(sql)
    except (TrailHoundError, SqlglotError):
        return []
    names = tree.named_selects if isinstance(tree, exp.Query) else []
    return [n for n in names if n and n != "*"]


def column_kinds(columns: list[str], *, hint: Mapping[str, str | Kind] | None = None,
                 engine: Mapping[str, Kind] | None = None, inferred: Mapping[str, Kind] | None = None
                 ) -> dict[str, Kind]:
    """Kind per column: hint, then engine metadata (Athena), then the SQL, then the contract's names."""
    hint_l = {k.lower(): kind_of(v) for k, v in (hint or {}).items()}
    engine = engine or {}
    inferred = inferred or {}
    out: dict[str, Kind] = {}
    for col in columns:
        low = col.lower()
        candidates = [hint_l.get(low), engine.get(low),
                      inferred.get(low) if inferred.get(low) is not Kind.VARCHAR else None,
                      contract_kind(col)]
        out[col] = next((k for k in candidates if k is not None), Kind.VARCHAR)
    return out


# -- parameters ---------------------------------------------------------------------------------
def normalize_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Window parameters given as text (``--param START_TIME=...``) become datetimes."""
    out = dict(params or {})
    for key in list(out):
        if key.upper() in ("START_TIME", "END_TIME") and isinstance(out[key], str):
            parsed = parse_time_text(out[key])
            if parsed is None:
                from trailhound.errors import UserInputError

                raise UserInputError(f"parameter {key} {out[key]!r}: expected an ISO-8601 time")
            out[key] = parsed
    return out


def window_of(params: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime] | None:
    values = {k.upper(): v for k, v in params.items()}
    start, end = values.get("START_TIME"), values.get("END_TIME")
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return start, end
    return None


# -- AWS errors, retries and polling --------------------------------------------------------------
def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "UnknownError")


def error_message(exc: ClientError) -> str:
    text = str(exc.response.get("Error", {}).get("Message") or "").strip()
    return " ".join(text.split())


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


@dataclass
class RetryPolicy:
    """Timing of one remote query. ``sleep``/``clock``/``rng`` are injectable for tests."""

    timeout_s: float = 600.0  # overall: start, queue, run and fetch
    poll_initial_s: float = 0.5
    poll_max_s: float = 5.0
    poll_factor: float = 1.5
    retry_base_s: float = 1.0
    retry_max_s: float = 20.0
    max_retries: int = 8
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def retry_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter (half fixed, half random) for retry ``attempt`` (0-based)."""
        cap = min(self.retry_max_s, self.retry_base_s * (2 ** attempt))
        return cap / 2 + self.rng.uniform(0, cap / 2)


class Deadline:
    def __init__(self, policy: RetryPolicy):
        self.policy = policy
        self.started = policy.clock()
        self.ends = self.started + policy.timeout_s

    def remaining(self) -> float:
        return self.ends - self.policy.clock()

    def elapsed(self) -> float:
        return self.policy.clock() - self.started

    def sleep(self, seconds: float) -> None:
        self.policy.sleep(max(0.0, min(seconds, self.remaining())))


class RetriesExhausted(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def call_with_retries(fn: Callable[..., Any], deadline: Deadline, *, store: str, op: str,
                      **kwargs: Any) -> Any:
    """Call an AWS API, retrying throttling and concurrency limits with jittered backoff.

    Anything else becomes a one-line :class:`StoreError` naming the store and AWS's error code.
    """
    attempt = 0
    while True:
        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code in RETRYABLE_CODES and attempt < deadline.policy.max_retries:
                delay = deadline.policy.retry_delay(attempt)
                if deadline.remaining() > delay:
                    deadline.sleep(delay)
                    attempt += 1
                    continue
            cls = RemoteSqlError if code in SQL_ERROR_CODES else StoreError
            raise cls(f"{store}: {op} failed: {code}: {error_message(exc)}") from None
        except NoCredentialsError:
            raise StoreError(f"{store}: {op} failed: NoCredentialsError: no AWS credentials found") from None
        except NoRegionError:
            raise StoreError(f"{store}: {op} failed: NoRegionError: set AWS_REGION") from None
        except BotoCoreError as exc:
            raise StoreError(f"{store}: {op} failed: {type(exc).__name__}: {one_line(str(exc))}") from None


def poll_delays(policy: RetryPolicy) -> Any:
    """Poll intervals: 0.5 s, growing by 1.5x, capped at 5 s."""
    delay = policy.poll_initial_s
    while True:
        yield delay
        delay = min(policy.poll_max_s, delay * policy.poll_factor)


def make_client(service: str, *, region: str | None, store: str) -> Any:
    """A plain boto3 client: honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> and profiles."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="trailhound")
    try:
        return boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]
    except NoRegionError:
        raise StoreError(f"{store}: NoRegionError: no AWS Region configured (set AWS_REGION)") from None
    except BotoCoreError as exc:
        raise StoreError(f"{store}: cannot create the {service} client: {type(exc).__name__}: "
                         f"{one_line(str(exc))}") from None
