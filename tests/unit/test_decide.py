"""decide is a pure function of finding, enrichment and policy."""

from __future__ import annotations

import datetime as dt

import pytest
from trailhound.findings import Finding, ProposedResponse, Window
from trailhound.investigation.policy import ContainmentMode, Disposition, Policy, decide

T = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)


def make(severity: str = "high", action: str | None = "deactivate_access_key", actor: str = "user/alice",
         params: dict[str, str] | None = None) -> Finding:
    return Finding(id="x", fingerprint="x", detection_id="d", title="t", severity=severity, event_ids=["e"],
                   first_seen=T, last_seen=T, actor_arn=actor if actor.startswith("arn:") else f"arn:aws:iam::111122223333:{actor}",
                   account_id="111122223333",
                   response=ProposedResponse(action=action, params=params if params is not None else
                                             {"user_name": "alice", "access_key_id": "AKIA1"}),
                   window=Window(start=T, end=T))


@pytest.mark.parametrize(("mode", "severity", "action", "expected", "apply"), [
    ("dry-run", "high", "deactivate_access_key", Disposition.AUTO_CONTAIN, False),
    ("approval", "high", "deactivate_access_key", Disposition.NEEDS_APPROVAL, True),
    ("automatic", "high", "deactivate_access_key", Disposition.AUTO_CONTAIN, True),
    ("automatic", "critical", "quarantine_instance", Disposition.NEEDS_APPROVAL, True),  # destructive
    ("automatic", "medium", "deactivate_access_key", Disposition.NEEDS_APPROVAL, True),  # below auto floor
    ("automatic", "low", "deactivate_access_key", Disposition.NOTIFY_ONLY, False),  # below approval floor
    ("automatic", "high", None, Disposition.NOTIFY_ONLY, False),
])
def test_disposition_follows_policy(mode: str, severity: str, action: str | None, expected: Disposition,
                                    apply: bool) -> None:
    d = decide(make(severity, action), None, Policy(mode=ContainmentMode(mode)))
    assert d.disposition is expected
    assert d.apply is apply
    assert d.reason


def test_destructive_actions_can_be_allowed_automatically() -> None:
    d = decide(make("critical", "quarantine_instance", params={"instance_id": "i-1"}), None,
               Policy(mode=ContainmentMode.AUTOMATIC, auto_destructive=True))
    assert d.disposition is Disposition.AUTO_CONTAIN


@pytest.mark.parametrize("actor", ["role/TrailHoundContainRole", "arn:aws:sts::111122223333:assumed-role/trailhound-detect/session"])
def test_trailhounds_own_roles_are_never_contained(actor: str) -> None:
    d = decide(make(actor=actor, action="revoke_role_sessions", params={"role_name": "x"}), None,
               Policy(mode=ContainmentMode.AUTOMATIC, auto_destructive=True))
    assert d.disposition is Disposition.NOTIFY_ONLY
    assert "protected" in d.reason


def test_configured_protected_target_is_never_contained() -> None:
    d = decide(make(params={"user_name": "break-glass", "access_key_id": "AKIA1"}), None,
               Policy(mode=ContainmentMode.AUTOMATIC, protected_patterns=("arn:aws:iam::*:user/break-glass",)))
    assert d.disposition is Disposition.NOTIFY_ONLY
    assert "break-glass" in d.reason


def test_a_finding_without_a_value_the_action_needs_is_notify_only() -> None:
    d = decide(make(params={"user_name": None, "access_key_id": "ASIA1"}), None,  # type: ignore[dict-item]
               Policy(mode=ContainmentMode.AUTOMATIC))
    assert d.disposition is Disposition.NOTIFY_ONLY
    assert "user_name" in d.reason
