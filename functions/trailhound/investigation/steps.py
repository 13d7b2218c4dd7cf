"""The investigation's steps as functions of (context, state document) → step result.

Each Lambda handler in ``trailhound.handlers.investigate`` is a thin adapter over one of these;
the local runner maps the definition's Task resources straight onto them. The state document
is the Step Functions execution's JSON: ``investigation_id``, ``finding``, ``started_at`` and,
as the execution goes on, ``enrichment``, ``decision``, ``approval``, ``containment``,
``verification`` and ``*_error`` entries written by the definition's Catch clauses.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trailhound.containment.records import ContainmentRecordStore
from trailhound.containment.runner import make_action, run_containment
from trailhound.findings import Finding
from trailhound.investigation.enrich import activity_after, enrich
from trailhound.investigation.policy import Decision, Disposition, Policy, decide
from trailhound.investigation.records import InvestigationStore
from trailhound.output import to_jsonable
from trailhound.store.base import EventStore

Notifier = Callable[[str, dict[str, Any]], None]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class StepContext:
    """What the steps need from the world, injected (AWS clients, store, records, clock)."""

    store: EventStore
    session: Any  # boto3.Session-like: .client(name)
    containment_records: ContainmentRecordStore
    investigations: InvestigationStore
    policy: Policy = field(default_factory=Policy)
    notify: Notifier | None = None
    clock: Callable[[], dt.datetime] = utcnow


def new_investigation(finding: Finding, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The execution input for a finding."""
    now = now or utcnow()
    return {"investigation_id": f"inv-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
            "started_at": to_jsonable(now), "finding": finding.to_event_detail()}


def _finding(doc: dict[str, Any]) -> Finding:
    return Finding.model_validate(doc["finding"])


def step_enrich(ctx: StepContext, doc: dict[str, Any]) -> dict[str, Any]:
    return enrich(ctx.store, _finding(doc), now=ctx.clock())


def step_decide(ctx: StepContext, doc: dict[str, Any]) -> dict[str, Any]:
    decision = decide(_finding(doc), doc.get("enrichment"), ctx.policy)
    return decision.model_dump(mode="json")


def step_request_approval(ctx: StepContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Keep the task token where `trailhound approve|reject` finds it, and ask a person."""
    inv_id = payload["investigation_id"]
    decision = payload.get("decision", {})
    ctx.investigations.update(inv_id, status="pending_approval", task_token=payload["task_token"],
                              finding=payload.get("finding"), decision=decision,
                              approval_requested_at=ctx.clock())
    if ctx.notify:
        ctx.notify("approval_requested", {"investigation_id": inv_id, "action": decision.get("action"),
                                          "params": decision.get("params"), "reason": decision.get("reason"),
                                          "approve": f"trailhound approve {inv_id}",
                                          "reject": f"trailhound reject {inv_id}"})
    return {"requested": True, "investigation_id": inv_id}


def step_contain(ctx: StepContext, payload: dict[str, Any]) -> dict[str, Any]:
    """The contain Lambda's contract: ``{finding_id, action, params, apply}`` → run_containment's result."""
    if not payload.get("action"):
        return {"status": "skipped", "reason": "no action"}
    result = run_containment(payload["action"], payload.get("params") or {}, finding_id=payload.get("finding_id"),
                             apply=bool(payload.get("apply")), session=ctx.session,
                             records=ctx.containment_records, protected_patterns=ctx.policy.protected_patterns)
    result["contained_at"] = to_jsonable(ctx.clock())
    return to_jsonable(result)  # type: ignore[no-any-return]


def _contained_at(ctx: StepContext, containment: dict[str, Any], now: dt.datetime) -> dt.datetime:
    """When the containment took effect: from the step's result, else from its record."""
    text = containment.get("contained_at")
    if not text and containment.get("containment_id"):
        record = ctx.containment_records.get(containment["containment_id"])
        text = to_jsonable(record.updated_at)
    if not text:
        return now
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def step_verify(ctx: StepContext, doc: dict[str, Any]) -> dict[str, Any]:
    """Did the containment take effect, and did the actor's activity stop?"""
    containment = doc.get("containment") or {}
    decision = Decision.model_validate(doc["decision"])
    now = ctx.clock()
    if containment.get("status") not in ("applied", "already_contained"):
        return {"verified": False, "escalate": False,
                "reason": f"nothing to verify: containment {containment.get('status', 'did not run')}"}
    effect_confirmed = None
    if decision.action:
        action = make_action(decision.action, ctx.session, protected_patterns=ctx.policy.protected_patterns,
                             account_id=doc["finding"].get("account_id"))
        effect_confirmed = action.plan(decision.params).already_contained
    since = _contained_at(ctx, containment, now)
    after = activity_after(ctx.store, _finding(doc), since, max(now, since + dt.timedelta(seconds=1)))
    stopped = int(after.get("succeeded") or 0) == 0
    escalate = (effect_confirmed is False) or not stopped
    reasons = []
    if effect_confirmed is False:
        reasons.append("the containment is not in effect any more")
    if not stopped:
        reasons.append(f"the actor made {after.get('succeeded')} successful calls after containment")
    return {"verified": True, "effect_confirmed": effect_confirmed, "activity_stopped": stopped,
            "activity_after": after, "checked_at": to_jsonable(now), "escalate": escalate,
            "reason": "; ".join(reasons) or "containment in effect and no successful activity since"}


def outcome(doc: dict[str, Any]) -> str:
    """The investigation's end state, in one word."""
    decision = doc.get("decision") or {}
    disposition = decision.get("disposition")
    if disposition == Disposition.NOTIFY_ONLY:
        return "notified"
    approval = doc.get("approval")
    if disposition == Disposition.NEEDS_APPROVAL and approval and not approval.get("approved"):
        return "approval_timed_out" if approval.get("by") == "timeout" else "rejected"
    if doc.get("containment_error"):
        return "containment_failed"
    containment = doc.get("containment") or {}
    status = containment.get("status")
    if status == "refused":
        return "refused_protected"
    if status == "planned":
        return "planned_dry_run"
    if (doc.get("verification") or {}).get("escalate") or doc.get("verification_error"):
        return "escalated"
    if status in ("applied", "already_contained"):
        return "contained"
    return "pending_approval" if disposition == Disposition.NEEDS_APPROVAL else "notified"


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    names = [("enrich", "enrichment"), ("decide", "decision"), ("approval", "approval"),
             ("contain", "containment"), ("verify", "verification")]
    out = []
    for name, key in names:
        if key in doc:
            out.append({"step": name, "status": "ok"})
        if f"{key}_error" in doc:
            err = doc[f"{key}_error"]
            out.append({"step": name, "status": "failed", "error": err.get("Error"), "cause": err.get("Cause")})
    return out


def step_notify(ctx: StepContext, doc: dict[str, Any]) -> dict[str, Any]:
    """Write the investigation record and send the notification; returns the record."""
    finding = doc["finding"]
    decision = doc.get("decision") or {}
    containment = doc.get("containment") or {}
    record = {
        "investigation_id": doc["investigation_id"],
        "started_at": doc.get("started_at"),
        "completed_at": to_jsonable(ctx.clock()),
        "status": "completed",
        "outcome": outcome(doc),
        "disposition": decision.get("disposition"),
        "reason": decision.get("reason"),
        "finding": finding,
        "enrichment": doc.get("enrichment") or {},
        "decision": decision,
        "approval": doc.get("approval"),
        "containment": containment,
        "containment_id": containment.get("containment_id"),
        "verification": doc.get("verification"),
        "errors": {k: v for k, v in doc.items() if k.endswith("_error")},
        "steps": _steps(doc) + [{"step": "notify", "status": "ok"}],
        "task_token": None,
    }
    ctx.investigations.put(record)
    if ctx.notify:
        ctx.notify("investigation_completed", {
            "investigation_id": record["investigation_id"], "outcome": record["outcome"],
            "detection": finding.get("detection_id"), "severity": finding.get("severity"),
            "actor": finding.get("actor_arn"), "reason": record["reason"],
            "containment_id": record["containment_id"],
            "verification": (record["verification"] or {}).get("reason"),
            "errors": record["errors"],
        })
    return {"investigation_id": record["investigation_id"], "outcome": record["outcome"],
            "disposition": record["disposition"], "containment_id": record["containment_id"]}


STEPS: dict[str, Callable[[StepContext, dict[str, Any]], dict[str, Any]]] = {
    "enrich": step_enrich,
    "decide": step_decide,
    "request_approval": step_request_approval,
    "contain": step_contain,
    "verify": step_verify,
    "notify": step_notify,
}
