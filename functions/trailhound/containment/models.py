"""Typed results of containment actions and the containment record."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Reversibility(StrEnum):
    """How completely ``rollback`` restores what ``apply`` changed."""

    FULL = "full"
    PARTIAL = "partial"  # something cannot be restored as it was; plan says what
    NONE = "none"


class ResultStatus(StrEnum):
    APPLIED = "applied"
    ALREADY_CONTAINED = "already_contained"
    ROLLED_BACK = "rolled_back"
    ALREADY_ROLLED_BACK = "already_rolled_back"
    NOTHING_TO_ROLL_BACK = "nothing_to_roll_back"


class RecordStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    APPLIED = "applied"
    ALREADY_CONTAINED = "already_contained"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class Plan(BaseModel):
    """What ``apply`` would do, computed read-only. ``irreversible`` is said up front."""

    action: str
    targets: list[str] = Field(default_factory=list, description="ARNs the action acts on")
    changes: list[str] = Field(default_factory=list, description="what apply would change")
    already_contained: bool = False
    irreversible: list[str] = Field(default_factory=list, description="what rollback cannot restore")
    notes: list[str] = Field(default_factory=list, description="impact and related resources")
    current_state: dict[str, Any] = Field(default_factory=dict)


class Result(BaseModel):
    """Outcome of ``apply`` or ``rollback``. ``secret`` is shown once and never stored."""

    status: ResultStatus
    changes: list[str] = Field(default_factory=list)
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(default=None, exclude=True)


def new_record_id(now: dt.datetime | None = None) -> str:
    now = now or utcnow()
    return f"ctn-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


class ContainmentRecord(BaseModel):
    """One applied containment: what was asked, the state before it, what happened."""

    model_config = ConfigDict(validate_assignment=False)

    id: str = Field(default_factory=new_record_id)
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    finding_id: str | None = None
    account_id: str | None = None
    region: str | None = None
    status: RecordStatus = RecordStatus.IN_PROGRESS
    plan: dict[str, Any] = Field(default_factory=dict)
    before_state: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    rollback_result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    rolled_back_at: dt.datetime | None = None
    version: int = 0  # optimistic lock: stores write only if the stored version matches

    _checkpoint: Callable[[ContainmentRecord], None] | None = PrivateAttr(default=None)

    def bind_checkpoint(self, save: Callable[[ContainmentRecord], None]) -> None:
        self._checkpoint = save

    def save_before_state(self, **state: Any) -> None:
        """Record state about to be changed and persist it before the change is made."""
        self.before_state.update(state)
        if self._checkpoint is not None:
            self._checkpoint(self)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "action": self.action,
            "status": self.status.value,
            "finding_id": self.finding_id,
            "target": ", ".join(self.plan.get("targets", [])),
            "rolled_back_at": self.rolled_back_at,
        }
