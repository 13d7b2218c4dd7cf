"""Run investigations in-process on the one workflow definition (local store, CLI, demo).

Approval: ``approver(payload)`` answers True/False, or None when nobody can be asked; then the
execution pauses at the approval state and the record keeps what is needed to resume it with
``trailhound approve|reject INVESTIGATION_ID`` (``resume``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from trailhound.findings import Finding
from trailhound.investigation import asl
from trailhound.investigation.definition import FUNCTION_SUBSTITUTIONS, load
from trailhound.investigation.steps import STEPS, StepContext, new_investigation, outcome
from trailhound.output import to_jsonable

Approver = Callable[[dict[str, Any]], bool | None]


def _tasks(ctx: StepContext) -> dict[str, asl.TaskFn]:
    return {name: functools.partial(STEPS[name], ctx) for name in FUNCTION_SUBSTITUTIONS.values()}


def _await(ctx: StepContext, approver: Approver | None) -> Callable[[str, Any, int | None], Any]:
    def await_token(token: str, payload: Any, timeout: int | None) -> Any:
        answer = approver(payload) if approver else None
        if answer is None:
            raise asl.Paused("", None, token, None, "")
        return {"approved": bool(answer), "by": "terminal", "at": to_jsonable(ctx.clock())}

    return await_token


def _finish(ctx: StepContext, doc: dict[str, Any], execution: asl.Execution | None) -> dict[str, Any]:
    record = ctx.investigations.get(doc["investigation_id"])
    if execution is not None:
        record["history"] = [h["state"] for h in execution.history]
    return record


def run_investigation(ctx: StepContext, finding: Finding, *, approver: Approver | None = None) -> dict[str, Any]:
    """Investigate ``finding``; returns the investigation record (or the pending record)."""
    doc = new_investigation(finding, now=ctx.clock())
    return _execute(ctx, doc, approver=approver)


def _execute(ctx: StepContext, doc: dict[str, Any], *, approver: Approver | None,
             start_at: str | None = None) -> dict[str, Any]:
    try:
        execution = asl.run(load(), doc, _tasks(ctx), await_token=_await(ctx, approver), start_at=start_at)
    except asl.Paused as paused:
        record = ctx.investigations.update(
            doc["investigation_id"], status="pending_approval", outcome="pending_approval",
            disposition=(paused.state or {}).get("decision", {}).get("disposition"),
            reason=(paused.state or {}).get("decision", {}).get("reason"),
            enrichment=(paused.state or {}).get("enrichment"), started_at=doc.get("started_at"),
            local_resume={"state": paused.state, "next_state": paused.next_state, "result_path": paused.result_path},
            steps=[{"step": "enrich", "status": "ok"}, {"step": "decide", "status": "ok"},
                   {"step": "approval", "status": "pending"}],
        )
        return record
    return _finish(ctx, execution.output, execution)


def resume(ctx: StepContext, investigation_id: str, *, approved: bool, by: str) -> dict[str, Any]:
    """Answer a locally paused approval and run the rest of the definition."""
    record = ctx.investigations.get(investigation_id)
    pending = record.get("local_resume")
    if not pending:
        raise KeyError(investigation_id)
    state = dict(pending["state"])
    state["approval"] = {"approved": approved, "by": by, "at": to_jsonable(ctx.clock())}
    record["local_resume"] = None
    ctx.investigations.put(record)
    return _execute(ctx, state, approver=None, start_at=pending["next_state"])


__all__ = ["run_investigation", "resume", "outcome"]
