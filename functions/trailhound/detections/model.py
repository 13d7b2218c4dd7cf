"""Detection files: the YAML header as a frozen, validated model, and the loader.

A detection is ``sql/detections/<id>.sql``: a leading ``/* yaml */`` comment, then one SELECT in
CloudTrail Lake's dialect using only ``$EDS_ID``, ``$START_TIME``, ``$END_TIME`` (and
``$THRESHOLD`` iff the header sets ``threshold``). See ``docs/detections.md``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trailhound.errors import DetectionFormatError, SqlError
from trailhound.sql.params import placeholders

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
_DURATION = re.compile(r"^(\d+)([mhd])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")
_RUNBOOK = re.compile(r"^notebooks/[A-Za-z0-9_\-]+\.ipynb$")
_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")
# libyaml's safe loader where PyYAML was built with it (its wheels are): ~10x faster than the
# pure-Python one: the 62 headers of the pack in ~0.01 s instead of ~0.09 s.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

WINDOW_PLACEHOLDERS = frozenset({"EDS_ID", "START_TIME", "END_TIME"})
THRESHOLD_PLACEHOLDER = "THRESHOLD"


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class ColumnType(enum.StrEnum):
    ARRAY = "array(varchar)"
    TIMESTAMP = "timestamp"
    VARCHAR = "varchar"


# The output contract: every detection returns at least these columns, with these types.
CONTRACT_COLUMNS: dict[str, ColumnType] = {
    "event_ids": ColumnType.ARRAY,
    "first_seen": ColumnType.TIMESTAMP,
    "last_seen": ColumnType.TIMESTAMP,
    "actor_arn": ColumnType.VARCHAR,
    "actor_type": ColumnType.VARCHAR,
    "access_key_id": ColumnType.VARCHAR,
    "source_ip": ColumnType.VARCHAR,
    "user_agent": ColumnType.VARCHAR,
    "account_id": ColumnType.VARCHAR,
    "region": ColumnType.VARCHAR,
    "event_name": ColumnType.VARCHAR,
    "target": ColumnType.VARCHAR,
}

# Containment actions and their parameters (the agreed contract). The containment registry,
# when importable, is the authority on which names exist; these parameter lists validate headers.
STATIC_ACTIONS: dict[str, tuple[str, ...]] = {
    "deactivate_access_key": ("user_name", "access_key_id"),
    "deny_all_user_policy": ("user_name",),
    "revoke_role_sessions": ("role_name",),
    "disable_console_access": ("user_name",),
    "quarantine_instance": ("instance_id",),
    "block_public_bucket": ("bucket",),
    "restore_cloudtrail_logging": ("trail",),
    "revoke_open_ingress": ("group_id",),
    "unshare_snapshot_or_image": ("resource_id",),
    "remove_public_function_policy": ("function_name",),
}


@lru_cache(maxsize=1)
def known_actions() -> frozenset[str]:
    """Action names: ``trailhound.containment.registry.list_actions()`` when it loads, else the
    static contract list. Header parameters are checked against the contract (``STATIC_ACTIONS``)."""
    try:
        from trailhound.containment.registry import list_actions  # type: ignore[import-not-found,unused-ignore]

        items = list(list_actions())
    except Exception:  # noqa: BLE001 - the registry is optional; a broken one must not stop detection
        return frozenset(STATIC_ACTIONS)
    names = {item if isinstance(item, str) else getattr(item, "name", None) for item in items}
    return frozenset(n for n in names if isinstance(n, str)) or frozenset(STATIC_ACTIONS)


@lru_cache(maxsize=64)
def action_parameters(action: str) -> tuple[frozenset[str], frozenset[str]]:
    """(every parameter, the required ones) of a containment action: from the action's own
    ``Params`` model when the registry loads, so a header cannot drift from the action."""
    try:
        from trailhound.containment.registry import get_action

        fields = get_action(action).Params.model_fields
        return frozenset(fields), frozenset(n for n, f in fields.items() if f.is_required())
    except Exception:  # noqa: BLE001 - the registry is optional; fall back to the static contract
        names = frozenset(STATIC_ACTIONS.get(action, ()))
        return names, names


@lru_cache(maxsize=1)
def techniques() -> dict[str, str]:
    """The 44 attack technique ids (Stratus Red Team's AWS list) → their names."""
    data = json.loads((Path(__file__).parent / "techniques.json").read_text(encoding="utf-8"))
    return {t["id"]: t["name"] for t in data}


def parse_duration(value: str) -> dt.timedelta:
    m = _DURATION.match(value)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"expected a duration such as 15m, 1h, 1d, got {value!r}")
    return dt.timedelta(**{_DURATION_UNITS[m.group(2)]: int(m.group(1))})


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    column: str = Field(pattern=_COLUMN.pattern)
    min: int = Field(ge=1)


class Response(BaseModel):
    """The containment action a finding proposes; ``params`` maps action parameter → result column."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: str
    params: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_action(self) -> Response:
        if self.action not in known_actions():
            raise ValueError(f"unknown containment action {self.action!r}; expected one of "
                             + ", ".join(sorted(known_actions())))
        allowed, required = action_parameters(self.action)
        unknown = sorted(set(self.params) - allowed)
        if unknown:
            raise ValueError(f"action {self.action} takes {', '.join(sorted(allowed))}; unknown parameter(s) "
                             + ", ".join(unknown))
        missing = sorted(required - set(self.params))
        if missing:
            raise ValueError(f"action {self.action} needs parameter(s) {', '.join(missing)} mapped from result columns")
        for col in self.params.values():
            if not _COLUMN.match(col):
                raise ValueError(f"parameter source {col!r} is not a result column name")
        return self


class DetectionHeader(BaseModel):
    """The YAML header of a detection file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN.pattern)
    title: str = Field(min_length=3)
    description: str = Field(min_length=10)
    severity: Severity
    attack: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    schedule: str
    lookback: str
    dedup_key: tuple[str, ...] = Field(min_length=1)
    threshold: Threshold | None = None
    response: Response | None = None
    false_positives: tuple[str, ...] = ()
    runbook: str = Field(pattern=_RUNBOOK.pattern)

    @field_validator("attack")
    @classmethod
    def _attack_ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in v if not _ATTACK_ID.match(a)]
        if bad:
            raise ValueError(f"not MITRE ATT&CK technique ids (T1234 or T1234.001): {', '.join(bad)}")
        return v

    @field_validator("techniques")
    @classmethod
    def _technique_ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in v if t not in techniques()]
        if unknown:
            raise ValueError(f"unknown attack technique id(s) {', '.join(unknown)} "
                             "(expected ids from detections/techniques.json)")
        return v

    @field_validator("schedule", "lookback")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v

    @field_validator("dedup_key")
    @classmethod
    def _dedup_columns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in v if not _COLUMN.match(c)]
        if bad:
            raise ValueError(f"not result column names: {', '.join(bad)}")
        return v

    @property
    def schedule_delta(self) -> dt.timedelta:
        return parse_duration(self.schedule)

    @property
    def lookback_delta(self) -> dt.timedelta:
        return parse_duration(self.lookback)


@dataclass(frozen=True)
class Detection:
    """A loaded detection: its header, the SQL after the header, and where it came from."""

    header: DetectionHeader
    sql: str
    path: Path

    def __hash__(self) -> int:
        return hash((self.header.id, self.sql, self.path))

    @property
    def id(self) -> str:
        return self.header.id

    @property
    def title(self) -> str:
        return self.header.title

    @property
    def severity(self) -> Severity:
        return self.header.severity

    @cached_property
    def uses_threshold(self) -> bool:
        return self.header.threshold is not None

    def summary(self) -> dict[str, Any]:
        """What ``detections list`` shows."""
        h = self.header
        return {
            "id": h.id, "title": h.title, "severity": h.severity.value, "attack": list(h.attack),
            "techniques": list(h.techniques), "schedule": h.schedule, "lookback": h.lookback,
            "response": h.response.action if h.response else None, "runbook": h.runbook,
        }


# --- locating the files ----------------------------------------------------------------------

def sql_dir() -> Path:
    """The ``sql/`` directory: ``$TRAILHOUND_SQL_DIR``, else the repository's ``sql/`` beside
    ``functions/``, else the copy packaged into the Lambda asset at ``trailhound/_sql``."""
    env = os.environ.get("TRAILHOUND_SQL_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent.parent  # .../trailhound
    repo = package.parent.parent / "sql"
    if (repo / "detections").is_dir():
        return repo
    bundled = package / "_sql"
    if (bundled / "detections").is_dir():
        return bundled
    return repo


def detections_dir() -> Path:
    return sql_dir() / "detections"


def fixtures_dir() -> Path:
    return sql_dir() / "fixtures"


# --- parsing ---------------------------------------------------------------------------------

def _field_name(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc) or "header"


def parse_detection(text: str, path: Path, *, parse_sql: bool = True) -> Detection:
    """Parse one detection file's text; raise :class:`DetectionFormatError` naming path and field.

    ``parse_sql=False`` skips parsing the SQL (the header, the placeholders and the rest are still
    checked): for a pack already parsed elsewhere, as the detect Lambda's is (see
    ``handlers/detect.py``).
    """
    stripped = text.lstrip()
    if not stripped.startswith("/*"):
        raise DetectionFormatError(f"{path}: expected a leading /* YAML header */ comment")
    end = stripped.find("*/")
    if end < 0:
        raise DetectionFormatError(f"{path}: the header comment is not closed with */")
    raw_header, sql = stripped[2:end], stripped[end + 2:].strip()
    try:
        data = yaml.load(raw_header, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (header line {mark.line + 1})" if mark is not None else ""
        raise DetectionFormatError(f"{path}: header is not valid YAML{where}: "
                                   f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, Mapping):
        raise DetectionFormatError(f"{path}: header must be a YAML mapping of fields")
    try:
        header = DetectionHeader.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise DetectionFormatError(f"{path}: field {_field_name(err['loc'])}: {msg}") from None
    if header.id != path.stem:
        raise DetectionFormatError(f"{path}: field id: {header.id!r} must equal the file name {path.stem!r}")
    _check_sql(header, sql, path, parse=parse_sql)
    return Detection(header=header, sql=sql, path=path)


def _check_sql(header: DetectionHeader, sql: str, path: Path, *, parse: bool) -> None:
    if not sql:
        raise DetectionFormatError(f"{path}: field sql: no SELECT after the header")
    used = placeholders(sql)
    expected = set(WINDOW_PLACEHOLDERS) | ({THRESHOLD_PLACEHOLDER} if header.threshold else set())
    if used != expected:
        parts = []
        if expected - used:
            parts.append("missing " + ", ".join("$" + p for p in sorted(expected - used)))
        if used - expected:
            parts.append("unexpected " + ", ".join("$" + p for p in sorted(used - expected)))
        raise DetectionFormatError(f"{path}: field sql: placeholders must be exactly "
                                   + ", ".join("$" + p for p in sorted(expected)) + f" ({'; '.join(parts)})")
    if not parse:
        return
    from sqlglot import exp

    from trailhound.sql.params import bind
    from trailhound.sql.translate import parse_trino

    probe = bind(sql, {"START_TIME": dt.datetime(2000, 1, 1), "END_TIME": dt.datetime(2000, 1, 2),
                       "THRESHOLD": 1}, table="events")
    try:
        tree = parse_trino(probe)
    except SqlError as exc:
        raise DetectionFormatError(f"{path}: field sql: {exc}") from None
    if not isinstance(tree, exp.Query):
        raise DetectionFormatError(f"{path}: field sql: expected one SELECT, got {tree.key.upper()}")


def load_detection(path: str | os.PathLike[str], *, parse_sql: bool = True) -> Detection:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DetectionFormatError(f"{p}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DetectionFormatError(f"{p}: not UTF-8 text") from None
    return parse_detection(text, p, parse_sql=parse_sql)


def load_detections(directory: str | os.PathLike[str] | None = None,
                    ids: Iterable[str] | None = None, *, parse_sql: bool = True) -> list[Detection]:
    """Every ``*.sql`` under ``directory`` (default :func:`detections_dir`), sorted by id.

    ``ids`` selects some; an unknown id is an error that lists what exists. ``parse_sql``: see
    :func:`parse_detection`.
    """
    d = Path(directory) if directory is not None else detections_dir()
    if not d.is_dir():
        raise DetectionFormatError(f"{d}: no detections directory (set TRAILHOUND_SQL_DIR to the sql/ folder)")
    detections = [load_detection(p, parse_sql=parse_sql) for p in sorted(d.glob("*.sql"))]
    if ids is None:
        return detections
    wanted = list(dict.fromkeys(ids))
    by_id = {det.id: det for det in detections}
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        from trailhound.errors import UserInputError

        raise UserInputError(f"--detection {', '.join(unknown)}: no such detection in {d}")
    return [by_id[i] for i in wanted]
