"""Findings: what a detection raises, with a stable fingerprint.

The fingerprint is the SHA-256 of the detection id and the values of the detection's
``dedup_key`` columns, so the same behaviour seen in two overlapping windows gives the same
fingerprint (the scheduler's ledger relies on this). A finding's ``id`` is its fingerprint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trailhound.detections.model import Severity
from trailhound.output import to_jsonable

EVENT_SOURCE = "trailhound"
DETAIL_TYPE = "TrailHound Finding"
SCHEMA_VERSION = "1"


def fingerprint(detection_id: str, dedup_key: Sequence[str], row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the detection id and the dedup key's column values, order-stable."""
    payload = [detection_id, [[col, _canonical(row.get(col))] for col in dedup_key]]
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _canonical(value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    if isinstance(value, (list, tuple, set)):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return to_jsonable(value)


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class Window(BaseModel):
    model_config = ConfigDict(frozen=True)
    start: dt.datetime
    end: dt.datetime  # exclusive

    @field_validator("start", "end")
    @classmethod
    def _as_utc(cls, v: dt.datetime) -> dt.datetime:
        return _utc(v)


class ProposedResponse(BaseModel):
    """The containment a finding proposes (``action`` None: notify only) and its playbook."""

    model_config = ConfigDict(frozen=True)
    action: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    runbook: str | None = None


class Finding(BaseModel):
    """One row of a detection's result, with the detection's metadata."""

    model_config = ConfigDict(frozen=True)

    id: str
    detection_id: str
    title: str
    severity: Severity
    fingerprint: str
    attack: list[str] = Field(default_factory=list)
    techniques: list[str] = Field(default_factory=list)
    # the output contract
    event_ids: list[str]
    first_seen: dt.datetime
    last_seen: dt.datetime
    actor_arn: str | None = None
    actor_type: str | None = None
    access_key_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    account_id: str | None = None
    region: str | None = None
    event_name: str | None = None
    target: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)  # the detection's other columns
    response: ProposedResponse = Field(default_factory=ProposedResponse)
    window: Window
    schema_version: str = SCHEMA_VERSION

    @field_validator("first_seen", "last_seen")
    @classmethod
    def _as_utc(cls, v: dt.datetime) -> dt.datetime:
        return _utc(v)

    def principal_arn(self) -> str | None:
        """The IAM user or role behind the session, when the detection returned it."""
        value = self.extra.get("principal_arn")
        return value if isinstance(value, str) else self.actor_arn

    def to_event_detail(self) -> dict[str, Any]:
        """The ``detail`` of the ``TrailHound Finding`` EventBridge event (JSON-ready)."""
        detail: dict[str, Any] = to_jsonable(self.model_dump(mode="python"))
        return detail

    def to_eventbridge_entry(self, bus_name: str = "trailhound") -> dict[str, Any]:
        """A ``PutEvents`` entry for this finding."""
        return {
            "Source": EVENT_SOURCE,
            "DetailType": DETAIL_TYPE,
            "EventBusName": bus_name,
            "Resources": [a for a in (self.actor_arn,) if a and a.startswith("arn:")],
            "Detail": json.dumps(self.to_event_detail(), ensure_ascii=False),
        }

    @classmethod
    def from_event_detail(cls, detail: Mapping[str, Any] | str) -> Finding:
        data = json.loads(detail) if isinstance(detail, str) else dict(detail)
        return cls.model_validate(data)
