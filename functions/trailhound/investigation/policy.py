"""decide: a pure function of finding, enrichment and policy → what the investigation does.

Dispositions:

* ``auto_contain`` — run the finding's containment action now (``apply`` False in dry-run mode:
  the plan is recorded, nothing changes);
* ``needs_approval`` — wait for a person (task token) before containing;
* ``notify_only`` — no containment: notify and leave the follow-up to a playbook.

Rules, in order (the first that applies wins; every decision carries its reason):

1. the detection proposes no action, or the finding lacks a value the action needs (e.g. a
   user name for a role session) → notify_only;
2. the actor, the principal behind it or the target is protected (configured patterns and
   TrailHound's own roles, always) → notify_only;
3. severity below ``approval_min_severity`` → notify_only;
4. mode ``dry-run`` → auto_contain with apply False (a plan, for the record);
5. mode ``approval`` → needs_approval;
6. mode ``automatic``: severity ≥ ``auto_min_severity`` and the action is not destructive
   (or destructive actions are allowed automatically) → auto_contain; otherwise needs_approval.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trailhound.containment.protected import matching_pattern
from trailhound.detections.model import Severity
from trailhound.findings import Finding

# Actions that take something away from a workload or a person beyond the attacker's key:
# in automatic mode they still wait for approval unless the policy says otherwise.
DESTRUCTIVE_ACTIONS = frozenset({"quarantine_instance", "revoke_role_sessions", "deny_all_user_policy",
                                 "disable_console_access", "remove_public_function_policy"})


class Disposition(enum.StrEnum):
    AUTO_CONTAIN = "auto_contain"
    NEEDS_APPROVAL = "needs_approval"
    NOTIFY_ONLY = "notify_only"


class ContainmentMode(enum.StrEnum):
    DRY_RUN = "dry-run"
    APPROVAL = "approval"
    AUTOMATIC = "automatic"


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True)
    mode: ContainmentMode = ContainmentMode.DRY_RUN
    approval_min_severity: Severity = Severity.MEDIUM
    auto_min_severity: Severity = Severity.HIGH
    auto_destructive: bool = False
    protected_patterns: tuple[str, ...] = ()
    verify_wait_seconds: int = Field(default=300, ge=0)
    approval_timeout_seconds: int = Field(default=86400, ge=1)


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)
    disposition: Disposition
    reason: str
    action: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    apply: bool = False
    destructive: bool = False
    verify_wait_seconds: int = 0
    approval_timeout_seconds: int = 86400


def _at_least(severity: Severity, floor: Severity) -> bool:
    return severity.rank >= floor.rank


_SESSION = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$")


def _principals(finding: Finding) -> Iterable[tuple[str, str]]:
    if finding.actor_arn:
        yield "actor", finding.actor_arn
        session = _SESSION.match(finding.actor_arn)
        if session:  # the role behind an assumed-role session
            partition, account, role = session.groups()
            yield "role", f"arn:{partition}:iam::{account}:role/{role}"
    principal = finding.principal_arn()
    if principal and principal != finding.actor_arn:
        yield "principal", principal
    account = finding.account_id or "*"
    params: Mapping[str, Any] = finding.response.params
    if params.get("user_name"):
        yield "target", f"arn:aws:iam::{account}:user/{params['user_name']}"
    if params.get("role_name"):
        yield "target", f"arn:aws:iam::{account}:role/{params['role_name']}"


def decide(finding: Finding, enrichment: Mapping[str, Any] | None, policy: Policy) -> Decision:
    """What to do with ``finding``. ``enrichment`` is accepted for rules that weigh the actor's
    activity; the current rules do not need it."""
    action = finding.response.action

    def decision(disposition: Disposition, reason: str, *, apply: bool = False) -> Decision:
        return Decision(disposition=disposition, reason=reason, apply=apply, action=action,
                        params=dict(finding.response.params), destructive=action in DESTRUCTIVE_ACTIONS,
                        verify_wait_seconds=policy.verify_wait_seconds,
                        approval_timeout_seconds=policy.approval_timeout_seconds)

    if not action:
        return decision(Disposition.NOTIFY_ONLY, "the detection proposes no containment action")
    empty = sorted(k for k, v in finding.response.params.items() if v in (None, ""))
    if empty:
        return decision(Disposition.NOTIFY_ONLY, f"the finding has no value for {', '.join(empty)}, which "
                        f"{action} needs: follow up in {finding.response.runbook or 'a playbook'}")
    for role, arn in _principals(finding):
        pattern = matching_pattern(arn, policy.protected_patterns)
        if pattern:
            return decision(Disposition.NOTIFY_ONLY, f"the {role} {arn} is protected ({pattern}): never contained")
    if not _at_least(finding.severity, policy.approval_min_severity):
        return decision(Disposition.NOTIFY_ONLY,
                        f"severity {finding.severity} is below {policy.approval_min_severity}")
    if policy.mode is ContainmentMode.DRY_RUN:
        return decision(Disposition.AUTO_CONTAIN, "containment mode is dry-run: the plan is recorded, "
                        "nothing is changed")
    if policy.mode is ContainmentMode.APPROVAL:
        return decision(Disposition.NEEDS_APPROVAL, "containment mode is approval: a person approves every "
                        "containment", apply=True)
    if not _at_least(finding.severity, policy.auto_min_severity):
        return decision(Disposition.NEEDS_APPROVAL, f"severity {finding.severity} is below "
                        f"{policy.auto_min_severity} for automatic containment", apply=True)
    if action in DESTRUCTIVE_ACTIONS and not policy.auto_destructive:
        return decision(Disposition.NEEDS_APPROVAL, f"{action} is destructive and the policy requires approval "
                        "for it", apply=True)
    return decision(Disposition.AUTO_CONTAIN, f"automatic mode, severity {finding.severity}", apply=True)
