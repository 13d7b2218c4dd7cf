"""remove_public_function_policy against moto (functions are created, never invoked)."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from trailhound.containment.actions.awslambda import RemovePublicFunctionPolicy, add_permission_args, exposure
from trailhound.containment.errors import ProtectedPrincipalError, ResourceNotFoundError

ACCOUNT = "123456789012"
KNOWN = "111122223333"
STRANGER = "999988887777"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(e, c):\n    return 1\n")
    return buf.getvalue()


@pytest.fixture
def lam(moto):
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    client = boto3.client("lambda")
    for name in ("report-generator", "trailhound-contain"):
        client.create_function(FunctionName=name, Runtime="python3.11", Role=role["Role"]["Arn"],
                               Handler="h.h", Code={"ZipFile": _zip()})
    add = client.add_permission
    add(FunctionName="report-generator", StatementId="public", Action="lambda:InvokeFunction", Principal="*")
    add(FunctionName="report-generator", StatementId="stranger", Action="lambda:InvokeFunction", Principal=STRANGER)
    add(FunctionName="report-generator", StatementId="partner", Action="lambda:InvokeFunction", Principal=KNOWN)
    add(FunctionName="report-generator", StatementId="s3-own", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket-one", SourceAccount=ACCOUNT)
    add(FunctionName="report-generator", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
        FunctionUrlAuthType="NONE")
    return client


def statements(lam, name="report-generator"):
    try:
        return json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    except lam.exceptions.ResourceNotFoundException:
        return []


def by_sid(stmts):
    return {s["Sid"]: s for s in stmts}


def test_remove_public_function_policy(run, lam, calls, assert_declared):
    before = by_sid(statements(lam))
    params = {"function_name": "report-generator", "known_accounts": KNOWN}
    plan = run.plan("remove_public_function_policy", params)["plan"]
    assert len(plan["changes"]) == 3 and calls.mutating() == []
    assert any("without authentication" in c for c in plan["changes"])

    first = run.apply("remove_public_function_policy", params)
    assert first["status"] == "applied"
    assert sorted(by_sid(statements(lam))) == ["partner", "s3-own"]
    assert_declared(RemovePublicFunctionPolicy, calls)

    again = run.apply("remove_public_function_policy", params)
    assert again["status"] == "already_contained"
    assert sorted(by_sid(statements(lam))) == ["partner", "s3-own"]

    calls.clear()
    run.rollback(first["containment_id"])
    after = by_sid(statements(lam))
    assert sorted(after) == sorted(before)
    for sid in ("public", "stranger"):
        assert after[sid]["Principal"] == before[sid]["Principal"]
        assert after[sid]["Action"] == before[sid]["Action"]
    assert_declared(RemovePublicFunctionPolicy, calls, rollback=True)


def test_no_policy_at_all_is_already_contained(run, lam):
    lam.create_function(FunctionName="quiet", Runtime="python3.11",
                        Role=f"arn:aws:iam::{ACCOUNT}:role/fn-role", Handler="h.h", Code={"ZipFile": _zip()})
    assert run.apply("remove_public_function_policy", {"function_name": "quiet"})["status"] == "already_contained"


def test_trailhound_functions_protected_and_missing(run, lam, calls):
    calls.clear()
    with pytest.raises(ProtectedPrincipalError, match="function:trailhound-contain"):
        run.apply("remove_public_function_policy", {"function_name": "trailhound-contain"})
    assert calls.ops == []
    with pytest.raises(ResourceNotFoundError, match="Lambda function 'ghost' does not exist"):
        run.apply("remove_public_function_policy", {"function_name": "ghost"})


@pytest.mark.parametrize(("statement", "flagged"), [
    ({"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"}, True),
    ({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "lambda:InvokeFunction"}, True),
    ({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{STRANGER}:root"}, "Action": "lambda:*"}, True),
    ({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{KNOWN}:root"}, "Action": "lambda:*"}, False),
    ({"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
      "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}, False),
    ({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction",
      "Condition": {"StringEquals": {"AWS:SourceAccount": STRANGER}}}, True),
    ({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "lambda:InvokeFunction",
      "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/x"}}}, False),
    ({"Effect": "Deny", "Principal": "*", "Action": "lambda:InvokeFunction"}, False),
])
def test_exposure(statement, flagged):
    assert (exposure(statement, {ACCOUNT, KNOWN}) is not None) is flagged


def test_add_permission_args_round_trip():
    stmt = {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}, "StringEquals": {"AWS:SourceAccount": KNOWN}}}
    assert add_permission_args(stmt) == {"StatementId": "s3", "Action": "lambda:InvokeFunction",
                                         "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::b",
                                         "SourceAccount": KNOWN}
    odd = {**stmt, "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4/32"}}}
    assert add_permission_args(odd) is None
