"""Run a containment end to end: plan, record, apply, roll back. Used by the CLI, the contain
Lambda, the Step Functions contain step and the local demo.

    result = run_containment("deactivate_access_key",
                             {"user_name": "alice", "access_key_id": "AKIA..."},
                             finding_id="f-123", apply=True, session=boto3.Session(),
                             records=JsonFileRecordStore(".trailhound/containments.json"))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from trailhound.containment.aws import AwsContext, ClientFactory, one_line
from trailhound.containment.base import Action
from trailhound.containment.errors import ProtectedPrincipalError
from trailhound.containment.models import (
    ContainmentRecord,
    RecordStatus,
    Result,
    ResultStatus,
    utcnow,
)
from trailhound.containment.records import ContainmentRecordStore
from trailhound.containment.registry import get_action
from trailhound.output import to_jsonable


class Outcome(StrEnum):
    """``status`` of a ``run_containment`` result."""

    PLANNED = "planned"  # dry run: nothing changed
    APPLIED = "applied"
    ALREADY_CONTAINED = "already_contained"
    REFUSED = "refused"  # protected principal: nothing called, nothing changed


def make_action(action_name: str, session: ClientFactory, *, protected_patterns: Iterable[str] = (),
                account_id: str | None = None) -> Action[Any]:
    cls = get_action(action_name)
    return cls(AwsContext(session, account_id=account_id), protected_patterns)


def contain(action_name: str, params: Mapping[str, Any], *, finding_id: str | None, apply: bool,
            session: ClientFactory, records: ContainmentRecordStore, protected_patterns: Iterable[str] = (),
            account_id: str | None = None) -> dict[str, Any]:
    """Like ``run_containment`` but a protected principal raises ``ProtectedPrincipalError``."""
    action = make_action(action_name, session, protected_patterns=protected_patterns, account_id=account_id)
    parsed = action.parse_params(params)
    plan = action.plan(parsed)
    out: dict[str, Any] = {
        "action": action.name,
        "finding_id": finding_id,
        "mode": "apply" if apply else "dry_run",
        "params": parsed.model_dump(mode="json", exclude_none=True),
        "plan": plan.model_dump(mode="json"),
    }
    if not apply:
        return {**out, "status": Outcome.PLANNED.value, "containment_id": None}

    record = ContainmentRecord(
        action=action.name, params=out["params"], finding_id=finding_id, plan=out["plan"],
        region=action.aws.region,
    )
    record.account_id = action.aws.account_id()
    records.save(record)  # conditional create: exists before anything changes
    record.bind_checkpoint(records.save)
    try:
        result = action.apply(parsed, record)
    except Exception as exc:
        record.status = RecordStatus.FAILED
        record.error = one_line(exc)
        records.save(record)
        raise
    record.status = (RecordStatus.ALREADY_CONTAINED if result.status is ResultStatus.ALREADY_CONTAINED
                     else RecordStatus.APPLIED)
    record.result = result.model_dump(mode="json")
    records.save(record)
    return {**out, "status": result.status.value, "containment_id": record.id,
            "result": record.result}


def run_containment(action_name: str, params: Mapping[str, Any], *, finding_id: str | None, apply: bool,
                    session: ClientFactory, records: ContainmentRecordStore,
                    protected_patterns: Iterable[str] = (), account_id: str | None = None) -> dict[str, Any]:
    """Plan (and if ``apply``, apply and record) one action; returns a JSON-able dict with
    ``status`` (planned / applied / already_contained / refused), ``containment_id``, ``plan``
    and ``result``. A protected principal is reported as ``refused``; other problems raise
    ``TrailHoundError`` subclasses (unknown action, bad parameter, missing resource, AWS error).
    """
    try:
        return contain(action_name, params, finding_id=finding_id, apply=apply, session=session,
                       records=records, protected_patterns=protected_patterns, account_id=account_id)
    except ProtectedPrincipalError as exc:
        return {"action": action_name, "finding_id": finding_id, "mode": "apply" if apply else "dry_run",
                "status": Outcome.REFUSED.value, "containment_id": None, "message": str(exc)}


def rollback_containment(containment_id: str, *, session: ClientFactory, records: ContainmentRecordStore,
                         account_id: str | None = None) -> dict[str, Any]:
    """Restore the before-state saved by containment ``containment_id`` and mark it rolled back.

    The returned dict may carry ``secret`` (e.g. a new temporary console password): it is shown
    once to the caller and never written to the record.
    """
    record = records.get(containment_id)
    action = make_action(record.action, session, account_id=account_id or record.account_id)
    if record.rolled_back_at is not None:
        result = Result(status=ResultStatus.ALREADY_ROLLED_BACK,
                        message=f"already rolled back at {to_jsonable(record.rolled_back_at)}")
    elif not record.before_state:
        result = Result(status=ResultStatus.NOTHING_TO_ROLL_BACK,
                        message="apply changed nothing (it was already contained), so there is nothing to restore")
    else:
        result = action.rollback(record)
        record.status = RecordStatus.ROLLED_BACK
        record.rolled_back_at = utcnow()
        record.rollback_result = result.model_dump(mode="json")  # excludes the secret
        records.save(record)
    out = {"containment_id": record.id, "action": record.action, "finding_id": record.finding_id,
           "status": result.status.value, "result": result.model_dump(mode="json"),
           "rolled_back_at": to_jsonable(record.rolled_back_at)}
    if result.secret:
        out["secret"] = result.secret
    return out


def record_view(record: ContainmentRecord) -> dict[str, Any]:
    return to_jsonable(record.model_dump(mode="json"))  # type: ignore[no-any-return]
