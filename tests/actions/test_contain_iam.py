"""IAM actions against moto: apply, apply again, rollback, protected, missing resources."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from trailhound.containment.actions.iam import (
    DENY_ALL_DOCUMENT,
    DENY_ALL_POLICY_NAME,
    REVOKE_POLICY_NAME,
    DeactivateAccessKey,
    DenyAllUserPolicy,
    DisableConsoleAccess,
    RevokeRoleSessions,
)
from trailhound.containment.errors import ProtectedPrincipalError, ResourceNotFoundError

ACCOUNT = "123456789012"


@pytest.fixture
def iam(moto):
    return boto3.client("iam")


@pytest.fixture
def alice(iam):
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="alice", Password="Orig-Passw0rd!", PasswordResetRequired=False)
    return key


def key_status(iam, user, key):
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}[key]


def inline_policies(iam, user):
    return iam.list_user_policies(UserName=user)["PolicyNames"]


# -- deactivate_access_key --------------------------------------------------------------------
def test_deactivate_access_key_apply_again_rollback(run, iam, alice, calls, assert_declared):
    params = {"user_name": "alice", "access_key_id": alice}
    plan = run.plan("deactivate_access_key", params)
    assert plan["status"] == "planned" and plan["containment_id"] is None
    assert plan["plan"]["changes"] == [f"set access key {alice} of alice from Active to Inactive"]
    assert calls.mutating() == []
    assert key_status(iam, "alice", alice) == "Active"

    first = run.apply("deactivate_access_key", params)
    assert first["status"] == "applied"
    assert key_status(iam, "alice", alice) == "Inactive"
    assert_declared(DeactivateAccessKey, calls)

    again = run.apply("deactivate_access_key", params)
    assert again["status"] == "already_contained"
    assert [k["Status"] for k in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]] == ["Inactive"]

    calls.clear()
    back = run.rollback(first["containment_id"])
    assert back["status"] == "rolled_back"
    assert key_status(iam, "alice", alice) == "Active"
    assert_declared(DeactivateAccessKey, calls, rollback=True)
    # the second apply changed nothing, so its rollback restores nothing
    assert run.rollback(again["containment_id"])["status"] == "nothing_to_roll_back"
    assert key_status(iam, "alice", alice) == "Active"


def test_deactivate_access_key_records_before_state(run, alice, records):
    out = run.apply("deactivate_access_key", {"user_name": "alice", "access_key_id": alice})
    record = records.get(out["containment_id"])
    assert record.before_state == {"status": "Active"}
    assert record.finding_id == "finding-1" and record.status.value == "applied"
    assert record.account_id == ACCOUNT and record.region == "us-east-1"
    assert record.plan["targets"] == [f"arn:aws:iam::{ACCOUNT}:user/alice"]


def test_deactivate_access_key_missing_key_and_user(run, alice):
    with pytest.raises(ResourceNotFoundError, match="access key AKIAAAAAAAAAAAAAAAAA of IAM user 'alice'"):
        run.apply("deactivate_access_key", {"user_name": "alice", "access_key_id": "AKIAAAAAAAAAAAAAAAAA"})
    with pytest.raises(ResourceNotFoundError, match=r"IAM user 'bob' does not exist \(NoSuchEntity\)"):
        run.plan("deactivate_access_key", {"user_name": "bob", "access_key_id": alice})


def test_protected_user_refused_before_any_call(run, iam, alice, calls, monkeypatch):
    monkeypatch.setenv("TRAILHOUND_PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/ali*, arn:aws:iam::*:role/Break*")
    calls.clear()
    for action, params in [("deactivate_access_key", {"user_name": "alice", "access_key_id": alice}),
                           ("deny_all_user_policy", {"user_name": "alice"}),
                           ("disable_console_access", {"user_name": "alice"})]:
        with pytest.raises(ProtectedPrincipalError, match="alice is a protected principal"):
            run.apply(action, params)
        with pytest.raises(ProtectedPrincipalError):
            run.plan(action, params)
    assert calls.ops == []
    assert key_status(iam, "alice", alice) == "Active"
    assert run.records.list() == []


def test_protected_pattern_with_specific_account_needs_only_sts(run, alice, calls):
    with pytest.raises(ProtectedPrincipalError):
        run.apply("deny_all_user_policy", {"user_name": "alice"},
                  protected_patterns=[f"arn:aws:iam::{ACCOUNT}:user/alice"])
    assert calls.ops == ["sts:GetCallerIdentity"]
    calls.clear()
    with pytest.raises(ProtectedPrincipalError):  # account given: no call at all
        run.apply("deny_all_user_policy", {"user_name": "alice"}, account_id=ACCOUNT,
                  protected_patterns=[f"arn:aws:iam::{ACCOUNT}:user/alice"])
    assert calls.ops == []
    # another account's pattern does not protect this account's alice
    out = run.plan("deny_all_user_policy", {"user_name": "alice"},
                   protected_patterns=["arn:aws:iam::999999999999:user/alice"])
    assert out["status"] == "planned"


def test_user_protected_by_path_is_refused_before_any_change(run, iam, calls):
    iam.create_user(UserName="breakglass", Path="/emergency/")
    with pytest.raises(ProtectedPrincipalError, match="user/emergency/breakglass"):
        run.apply("deny_all_user_policy", {"user_name": "breakglass"},
                  protected_patterns=["arn:aws:iam::*:user/emergency/*"])
    assert calls.mutating() == []
    assert inline_policies(iam, "breakglass") == []


# -- deny_all_user_policy ---------------------------------------------------------------------
def test_deny_all_user_policy(run, iam, alice, calls, assert_declared):
    iam.put_user_policy(UserName="alice", PolicyName="app", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    before = sorted(inline_policies(iam, "alice"))
    first = run.apply("deny_all_user_policy", {"user_name": "alice"})
    assert first["status"] == "applied"
    doc = iam.get_user_policy(UserName="alice", PolicyName=DENY_ALL_POLICY_NAME)["PolicyDocument"]
    assert doc == DENY_ALL_DOCUMENT
    assert_declared(DenyAllUserPolicy, calls)

    again = run.apply("deny_all_user_policy", {"user_name": "alice"})
    assert again["status"] == "already_contained"
    assert sorted(inline_policies(iam, "alice")) == sorted([*before, DENY_ALL_POLICY_NAME])

    calls.clear()
    assert run.rollback(first["containment_id"])["status"] == "rolled_back"
    assert sorted(inline_policies(iam, "alice")) == before
    assert_declared(DenyAllUserPolicy, calls, rollback=True)
    assert run.rollback(first["containment_id"])["status"] == "already_rolled_back"


# -- revoke_role_sessions ---------------------------------------------------------------------
@pytest.fixture
def app_role(iam):
    arn = iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))["Role"]["Arn"]
    iam.create_instance_profile(InstanceProfileName="app-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app-role")
    return arn


def test_revoke_role_sessions(run, iam, app_role, calls, assert_declared):
    plan = run.plan("revoke_role_sessions", {"role_name": "app-role"})["plan"]
    assert any("app-profile" in n for n in plan["notes"])
    assert plan["changes"][0].startswith(f"put inline policy {REVOKE_POLICY_NAME} on role app-role")

    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first = run.apply("revoke_role_sessions", {"role_name": "app-role"})
    assert first["status"] == "applied"
    doc = iam.get_role_policy(RoleName="app-role", PolicyName=REVOKE_POLICY_NAME)["PolicyDocument"]
    cutoff = doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    assert doc["Statement"][0]["Effect"] == "Deny" and doc["Statement"][0]["Action"] == "*"
    assert dt.datetime.fromisoformat(cutoff.replace("Z", "+00:00")) >= t0
    assert_declared(RevokeRoleSessions, calls)

    again = run.apply("revoke_role_sessions", {"role_name": app_role})  # by ARN this time
    assert again["status"] == "already_contained"
    assert iam.list_role_policies(RoleName="app-role")["PolicyNames"] == [REVOKE_POLICY_NAME]

    # a later explicit cutoff moves it forward
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    moved = run.apply("revoke_role_sessions", {"role_name": "app-role", "issued_before": later})
    assert moved["status"] == "applied"
    doc = iam.get_role_policy(RoleName="app-role", PolicyName=REVOKE_POLICY_NAME)["PolicyDocument"]
    assert doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"] == later

    run.rollback(moved["containment_id"])  # back to the first cutoff
    doc = iam.get_role_policy(RoleName="app-role", PolicyName=REVOKE_POLICY_NAME)["PolicyDocument"]
    assert doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"] == cutoff
    calls.clear()
    run.rollback(first["containment_id"])
    assert iam.list_role_policies(RoleName="app-role")["PolicyNames"] == []
    assert_declared(RevokeRoleSessions, calls, rollback=True)


def test_revoke_role_sessions_lists_functions_using_the_role(run, app_role):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(e, c):\n    return 1\n")
    lam = boto3.client("lambda")
    lam.create_function(FunctionName="uses-app", Runtime="python3.11", Role=app_role, Handler="h.h",
                        Code={"ZipFile": buf.getvalue()})
    notes = run.plan("revoke_role_sessions", {"role_name": "app-role"})["plan"]["notes"]
    assert any("function:uses-app" in n for n in notes)


def test_trailhound_own_roles_always_protected(run, iam, calls):
    iam.create_role(RoleName="TrailHoundContainRole", AssumeRolePolicyDocument="{}")
    calls.clear()
    with pytest.raises(ProtectedPrincipalError, match="TrailHound"):
        run.apply("revoke_role_sessions", {"role_name": "TrailHoundContainRole"})
    with pytest.raises(ProtectedPrincipalError):
        run.apply("revoke_role_sessions", {"role_name": f"arn:aws:iam::{ACCOUNT}:role/trailhound-decide"})
    assert calls.ops == []


def test_revoke_role_sessions_missing_role(run, moto):
    with pytest.raises(ResourceNotFoundError, match="IAM role 'ghost' does not exist"):
        run.plan("revoke_role_sessions", {"role_name": "ghost"})


# -- disable_console_access -------------------------------------------------------------------
def test_disable_console_access(run, iam, alice, calls, assert_declared, records):
    plan = run.plan("disable_console_access", {"user_name": "alice"})["plan"]
    assert plan["irreversible"] and "cannot be restored" in plan["irreversible"][0]

    first = run.apply("disable_console_access", {"user_name": "alice"})
    assert first["status"] == "applied"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="alice")
    assert_declared(DisableConsoleAccess, calls)

    again = run.apply("disable_console_access", {"user_name": "alice"})
    assert again["status"] == "already_contained"
    assert "already gone" in again["result"]["message"]

    calls.clear()
    sent = {}
    run.session.events.register("provide-client-params.iam.CreateLoginProfile",
                                lambda params, **_: sent.update(params))  # moto drops the reset flag
    back = run.rollback(first["containment_id"])
    assert back["status"] == "rolled_back"
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]["UserName"] == "alice"
    assert sent["PasswordResetRequired"] is True and sent["Password"] == back["secret"]
    assert len(back["secret"]) >= 20
    assert back["secret"] not in records.path.read_text()  # shown once, never stored
    assert_declared(DisableConsoleAccess, calls, rollback=True)


def test_failed_apply_is_recorded_with_its_before_state(run, iam, alice, records):
    from botocore.exceptions import ClientError
    from trailhound.containment.errors import ContainmentAwsError

    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "UpdateAccessKey")

    run.session.events.register("before-call.iam.UpdateAccessKey", deny)
    with pytest.raises(ContainmentAwsError, match="^deactivate_access_key: AWS UpdateAccessKey failed: AccessDenied"):
        run.apply("deactivate_access_key", {"user_name": "alice", "access_key_id": alice})
    [record] = records.list()
    assert record.status.value == "failed" and "AccessDenied" in record.error
    assert record.before_state == {"status": "Active"}  # saved before the change was attempted
    assert key_status(iam, "alice", alice) == "Active"


def test_run_containment_reports_refusal(run, alice):
    from trailhound.containment.runner import run_containment

    out = run_containment("deny_all_user_policy", {"user_name": "alice"}, finding_id="f-1", apply=True,
                          session=run.session, records=run.records,
                          protected_patterns=["arn:aws:iam::*:user/alice"])
    assert out["status"] == "refused" and out["containment_id"] is None
    assert run.calls.ops == []
