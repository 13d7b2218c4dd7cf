"""Protected principals: pure pattern matching, no AWS."""

from __future__ import annotations

import pytest
from trailhound.containment.protected import (
    ALWAYS_PROTECTED,
    is_protected,
    matching_pattern,
    matching_pattern_lazy_account,
    protected_patterns,
)
from trailhound.errors import UserInputError

ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("TRAILHOUND_PROTECTED_PRINCIPALS", raising=False)
    monkeypatch.delenv("TRAILHOUND_STACK_PREFIX", raising=False)


@pytest.mark.parametrize("arn", [
    f"arn:aws:iam::{ACCOUNT}:role/TrailHoundContainRole",
    f"arn:aws:iam::{ACCOUNT}:role/trailhound-decide",
    f"arn:aws:iam::{ACCOUNT}:role/service-role/TrailHound-Enrich",  # path-less form matches
    f"arn:aws:iam::{ACCOUNT}:role/TRAILHOUND-upper",  # case-insensitive: errs towards protecting
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:trailhound-contain",
])
def test_trailhound_own_principals_always_protected(arn):
    assert is_protected(arn)


@pytest.mark.parametrize("arn", [
    f"arn:aws:iam::{ACCOUNT}:role/app-role",
    f"arn:aws:iam::{ACCOUNT}:user/TrailHoundFan",  # a user, not one of our roles
    f"arn:aws:iam::{ACCOUNT}:role/my-trailhound",  # prefix, not substring
])
def test_others_not_protected_by_default(arn):
    assert not is_protected(arn)


def test_always_protected_includes_the_documented_patterns():
    assert {"arn:aws:iam::*:role/TrailHound*", "arn:aws:iam::*:role/trailhound*"} <= set(ALWAYS_PROTECTED)


def test_env_patterns_comma_separated(monkeypatch):
    monkeypatch.setenv("TRAILHOUND_PROTECTED_PRINCIPALS",
                       f" arn:aws:iam::*:role/BreakGlass* ,, arn:aws:iam::{ACCOUNT}:user/admin ")
    assert is_protected(f"arn:aws:iam::{ACCOUNT}:role/BreakGlassAdmin")
    assert is_protected(f"arn:aws:iam::{ACCOUNT}:user/admin")
    assert not is_protected("arn:aws:iam::999999999999:user/admin")
    assert matching_pattern(f"arn:aws:iam::{ACCOUNT}:user/admin") == f"arn:aws:iam::{ACCOUNT}:user/admin"


def test_extra_patterns_from_config():
    assert is_protected(f"arn:aws:iam::{ACCOUNT}:user/ci", extra_patterns=["arn:aws:iam::*:user/ci"])
    assert not is_protected(f"arn:aws:iam::{ACCOUNT}:user/ci")


def test_stack_prefix(monkeypatch):
    monkeypatch.setenv("TRAILHOUND_STACK_PREFIX", "SecOps-IR")
    assert is_protected(f"arn:aws:iam::{ACCOUNT}:role/SecOps-IR-ContainFunctionRole-ABC")
    assert "arn:aws:iam::*:role/SecOps-IR*" in protected_patterns()


def test_malformed_env_pattern_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("TRAILHOUND_PROTECTED_PRINCIPALS", "admin")
    with pytest.raises(UserInputError, match="TRAILHOUND_PROTECTED_PRINCIPALS: 'admin' is not an ARN pattern"):
        is_protected(f"arn:aws:iam::{ACCOUNT}:user/admin")


class Account:
    def __init__(self) -> None:
        self.asked = 0

    def __call__(self) -> str:
        self.asked += 1
        return ACCOUNT


def test_lazy_account_not_resolved_for_wildcard_patterns():
    account = Account()
    template = "arn:aws:iam::{account}:role/TrailHoundX"
    assert matching_pattern_lazy_account(template, account) == "arn:aws:iam::*:role/TrailHound*"
    assert matching_pattern_lazy_account("arn:aws:iam::{account}:user/alice", account) is None
    assert account.asked == 0


def test_lazy_account_resolved_only_when_a_specific_account_could_match():
    account = Account()
    extra = [f"arn:aws:iam::{ACCOUNT}:user/alice", "arn:aws:iam::999999999999:user/bob"]
    assert matching_pattern_lazy_account("arn:aws:iam::{account}:user/carol", account, extra) is None
    assert account.asked == 0  # no pattern could match carol in any account
    assert matching_pattern_lazy_account("arn:aws:iam::{account}:user/alice", account, extra) == extra[0]
    assert account.asked == 1
    assert matching_pattern_lazy_account("arn:aws:iam::{account}:user/bob", account, extra) is None
