"""Containment from a playbook: propose actions for the subject, show their plans, apply on a flag.

A playbook proposes; :func:`plan` dry-runs every proposal (read-only AWS calls) and shows what
would change and what could not be restored; :func:`apply` changes anything only when its
``apply`` argument is True (the notebook's ``apply`` parameter), through the same
``run_containment`` the Lambda uses, so every applied change is recorded for rollback.
Protected principals are refused by the actions themselves. A plan that cannot be computed (no
credentials, a resource that is gone) is shown as such; it never stops the notebook.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailhound.errors import TrailHoundError

_USER = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:user/(?:.*/)?([^/]+)$")
_SESSION = re.compile(r"^arn:aws[\w-]*:sts::\d{12}:assumed-role/([^/]+)/.+$")
_ROLE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/(?:.*/)?([^/]+)$")


@dataclass(frozen=True)
class Proposal:
    """One containment action with its parameters and why the playbook proposes it."""

    action: str
    params: dict[str, Any]
    why: str


@dataclass
class Outcome:
    proposal: Proposal
    status: str  # planned | applied | already_contained | refused | not_applied | error
    result: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def markdown(self) -> str:
        p = self.proposal
        params = ", ".join(f"{k}={v}" for k, v in p.params.items())
        lines = [f"**{p.action}**({params}): **{self.status}**", f"- why: {p.why}"]
        plan = self.result.get("plan") or {}
        for label, key in (("targets", "targets"), ("would change", "changes"), ("cannot be undone", "irreversible"),
                           ("notes", "notes")):
            for item in plan.get(key) or []:
                lines.append(f"- {label}: {item}")
        if plan.get("already_contained"):
            lines.append("- already contained: apply would change nothing")
        if self.result.get("containment_id"):
            lines.append(f"- containment record: `{self.result['containment_id']}` "
                         f"(roll back with `trailhound rollback {self.result['containment_id']}`)")
        if self.message:
            lines.append(f"- {self.message}")
        return "\n".join(lines)


@dataclass
class Report:
    """Outcomes of a plan or apply run; renders as Markdown in the notebook."""

    title: str
    outcomes: list[Outcome]

    def markdown(self) -> str:
        if not self.outcomes:
            return f"### {self.title}\nNothing to contain."
        return f"### {self.title}\n\n" + "\n\n".join(o.markdown() for o in self.outcomes)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    @property
    def statuses(self) -> list[str]:
        return [o.status for o in self.outcomes]


# --- proposals ---------------------------------------------------------------------------------

def user_name_of(arn: str | None) -> str | None:
    m = _USER.match(arn or "")
    return m.group(1) if m else None


def role_name_of(arn: str | None) -> str | None:
    m = _SESSION.match(arn or "") or _ROLE.match(arn or "")
    return m.group(1) if m else None


def for_credentials(actor_arn: str | None, access_keys: Iterable[str] = (),
                    created_keys: Iterable[tuple[str, str]] = ()) -> list[Proposal]:
    """Contain a principal by its keys and its sessions.

    An IAM user: deactivate each long-term key (AKIA...) seen in the window, and attach a deny-all
    policy, because session credentials obtained with a key (GetSessionToken, ASIA...) stay valid
    after the key is deactivated. A role session: revoke the role's sessions issued until now.
    ``created_keys`` ((user name, key id) pairs the actor created) are deactivated too: a key made
    for another user is the attacker's way back in.
    """
    out: list[Proposal] = []
    for user_name, key in sorted({(u, k) for u, k in created_keys if u and k}):
        out.append(Proposal("deactivate_access_key", {"user_name": user_name, "access_key_id": key},
                            f"the actor created this key for {user_name}: it outlives the actor's own containment"))
    user = user_name_of(actor_arn)
    if user:
        for key in sorted({k for k in access_keys if k and k.startswith("AKIA")}):
            if all(p.params.get("access_key_id") != key for p in out):
                out.append(Proposal("deactivate_access_key", {"user_name": user, "access_key_id": key},
                                    f"the long-term key {key} of {user} was used in the window"))
        out.append(Proposal("deny_all_user_policy", {"user_name": user},
                            "session credentials already issued to the user (GetSessionToken) outlive a "
                            "deactivated key; an explicit deny stops them and any key not yet seen"))
        return out
    role = role_name_of(actor_arn)
    if role:
        out.append(Proposal("revoke_role_sessions", {"role_name": role},
                            f"temporary credentials of {role} issued until now stop working; the role itself "
                            "keeps working for new sessions"))
    return out


def for_instance(instance_id: str | None, role_name: str | None) -> list[Proposal]:
    """Quarantine the instance (snapshots first; never stopped or terminated) and revoke its role's
    stolen sessions."""
    out: list[Proposal] = []
    if instance_id:
        out.append(Proposal("quarantine_instance", {"instance_id": instance_id},
                            "snapshot every volume (evidence), then swap the security groups for a no-traffic "
                            "isolation group; the instance keeps running (memory is evidence)"))
    if role_name:
        out.append(Proposal("revoke_role_sessions", {"role_name": role_name},
                            "the stolen instance credentials stay valid for hours after quarantine; this denies "
                            "every session of the role issued until now (the instance gets new ones)"))
    return out


# kind (tampering_calls.kind) -> (action, parameter)
_RESTORE = {
    "cloudtrail": ("restore_cloudtrail_logging", "trail"),
    "bucket": ("block_public_bucket", "bucket"),
    "snapshot": ("unshare_snapshot_or_image", "resource_id"),
    "image": ("unshare_snapshot_or_image", "resource_id"),
}
_MANUAL = {
    "guardduty": "no registered action re-enables GuardDuty: re-create or re-enable the detector "
                 "(UpdateDetector --enable), delete suppression filters the actor created, then re-check findings",
    "db_snapshot": "no registered action unshares RDS snapshots: ModifyDBSnapshotAttribute values-to-remove",
    "monitoring": "no registered action for this change: undo it by hand (see the call's request below)",
}


def for_tampering(kind: str | None, resource: str | None, event_name: str | None = None) -> list[Proposal]:
    """Restore or unshare what the tampering call changed (see ``manual_steps`` for the rest)."""
    if not resource or kind not in _RESTORE:
        return []
    if kind == "cloudtrail" and event_name and "Lifecycle" in event_name:
        return []  # a lifecycle rule on the trail's bucket: no action restores it
    action, param = _RESTORE[kind]
    why = {"cloudtrail": f"{event_name or 'the call'} impaired the trail: start logging again and restore "
                         "management events",
           "bucket": f"{event_name or 'the call'} may have exposed the bucket: turn on all four Block Public "
                     "Access settings (the policy is kept as evidence)",
           }.get(kind, f"{event_name or 'the call'} shared it: remove public and unknown-account permissions")
    return [Proposal(action, {param: resource}, why)]


def manual_steps(kind: str | None, event_name: str | None = None, *, other_accounts: Iterable[str] = ()) -> str | None:
    """What no registered action restores, to do by hand (``other_accounts``: accounts the
    change granted access to, see ``evidence.exposure``)."""
    if kind == "cloudtrail" and event_name and "Lifecycle" in event_name:
        return "restore the trail bucket's lifecycle configuration by hand (no registered action does)"
    accounts = sorted(set(other_accounts))
    if kind == "bucket" and accounts:
        return ("Block Public Access does not stop grants to named accounts: remove the policy statements for "
                + ", ".join(accounts) + " (PutBucketPolicy without them, or DeleteBucketPolicy) once it is "
                "saved as evidence")
    return _MANUAL.get(kind or "")


def for_finding(finding: Any) -> list[Proposal]:
    """The containment the finding's detection proposes, if any."""
    response = getattr(finding, "response", None)
    if not response or not response.action:
        return []
    return [Proposal(response.action, dict(response.params),
                     f"proposed by detection {finding.detection_id} ({finding.title})")]


# --- plan and apply ----------------------------------------------------------------------------

def _protected() -> tuple[str, ...]:
    from trailhound.config import load_settings

    try:
        return load_settings().protected_patterns()
    except TrailHoundError:
        from trailhound.config import OWN_ROLE_PATTERNS

        return tuple(OWN_ROLE_PATTERNS)


def _run(proposals: Sequence[Proposal], *, apply: bool, finding_id: str | None, session: Any,
         records: Any) -> list[Outcome]:
    from trailhound.containment.records import store_from_env
    from trailhound.containment.runner import run_containment

    if session is None:
        import boto3

        session = boto3.Session()
    if records is None:
        records = store_from_env(session)
    protected = _protected()
    out = []
    for p in proposals:
        try:
            result = run_containment(p.action, p.params, finding_id=finding_id or None, apply=apply,
                                     session=session, records=records, protected_patterns=protected)
            out.append(Outcome(p, str(result.get("status")), result, str(result.get("message") or "")))
        except TrailHoundError as exc:
            out.append(Outcome(p, "error", {}, f"could not {'apply' if apply else 'plan'}: {exc}"))
    return out


def plan(proposals: Sequence[Proposal], *, finding_id: str | None = None, session: Any = None,
         records: Any = None) -> Report:
    """Dry-run every proposal: read-only AWS calls, nothing changes."""
    return Report("Containment plan (dry run: nothing was changed)",
                  _run(proposals, apply=False, finding_id=finding_id, session=session, records=records))


def apply(proposals: Sequence[Proposal], *, apply: bool, finding_id: str | None = None, session: Any = None,
          records: Any = None) -> Report:
    """Apply every proposal when ``apply`` is True; otherwise change nothing and say so."""
    if not apply:
        return Report("Containment not applied", [
            Outcome(p, "not_applied", {}, "apply is False: set the `apply` parameter to True and re-run this cell")
            for p in proposals])
    return Report("Containment applied", _run(proposals, apply=True, finding_id=finding_id, session=session,
                                              records=records))
