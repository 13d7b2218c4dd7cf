"""Meta-tests over the registry: every action declares permissions, a docstring example and a
parameter schema; every action refuses protected principals before any AWS call; bad input
gives one-line errors that name the problem."""

from __future__ import annotations

import inspect
import re
import shlex
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from trailhound.containment.aws import AwsContext
from trailhound.containment.base import Action, ActionParams
from trailhound.containment.errors import (
    ContainmentAwsError,
    ContainmentParamError,
    ProtectedPrincipalError,
    UnknownActionError,
)
from trailhound.containment.models import ContainmentRecord
from trailhound.containment.registry import all_permissions, get_action, list_actions

ACTIONS = list_actions()
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$")


def example_params(cls: type[Action[Any]]) -> dict[str, str]:
    """The --param pairs of the docstring example."""
    doc = inspect.getdoc(cls) or ""
    example = doc.split("Example::", 1)[1].replace("\\\n", " ")
    line = next(ln for ln in example.splitlines() if ln.strip().startswith("trailhound contain"))
    words = shlex.split(line)
    return dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--param")


def test_registry_has_the_required_actions():
    names = {cls.name for cls in ACTIONS}
    assert {"deactivate_access_key", "deny_all_user_policy", "revoke_role_sessions", "disable_console_access",
            "quarantine_instance", "block_public_bucket", "restore_cloudtrail_logging", "revoke_open_ingress",
            "unshare_snapshot_or_image", "remove_public_function_policy"} <= names


@pytest.mark.parametrize("cls", ACTIONS, ids=lambda c: c.name)
def test_action_declares_permissions_docstring_and_schema(cls):
    assert re.fullmatch(r"[a-z][a-z0-9_]+", cls.name) and get_action(cls.name) is cls
    assert len(cls.permissions) >= 1, f"{cls.name} declares no IAM permissions"
    for perm in (*cls.permissions, *cls.rollback_permissions):
        assert IAM_ACTION.match(perm), f"{cls.name}: {perm!r} is not an IAM action"
    assert len(set(cls.permissions)) == len(cls.permissions)
    doc = inspect.getdoc(cls) or ""
    assert "Example::" in doc and f"trailhound contain {cls.name}" in doc, f"{cls.name} has no docstring example"
    assert cls.summary() and len(cls.summary()) < 300
    assert issubclass(cls.Params, ActionParams) and cls.Params.model_fields
    for fname, field in cls.Params.model_fields.items():
        assert field.description, f"{cls.name}.{fname} has no description"
    # the example's parameters are valid
    cls(AwsContext(boto3.Session(region_name="us-east-1")), ()).parse_params(example_params(cls))


def test_all_permissions_is_the_sorted_union_without_rollback_only_permissions():
    perms = all_permissions()
    assert perms == sorted(set(perms))
    assert set(perms) == {p for cls in ACTIONS for p in cls.permissions}
    assert "cloudtrail:StopLogging" not in perms and "ec2:AuthorizeSecurityGroupIngress" not in perms
    assert {"cloudtrail:StopLogging", "lambda:AddPermission"} <= set(all_permissions(include_rollback=True))


class StubbedFactory:
    """Clients whose Stubbers have nothing queued: any AWS call fails the test."""

    def __init__(self) -> None:
        self.session = boto3.Session(region_name="us-east-1")
        self.stubbers: list[Stubber] = []
        self.calls: list[str] = []
        self.session.events.register("before-call", lambda model, **_: self.calls.append(model.name))

    def client(self, service_name: str) -> Any:
        client = self.session.client(service_name)
        stubber = Stubber(client)
        stubber.activate()
        self.stubbers.append(stubber)
        return client


@pytest.mark.parametrize("cls", ACTIONS, ids=lambda c: c.name)
@pytest.mark.parametrize("operation", ["plan", "apply"])
def test_protected_target_refused_before_any_aws_call(cls, operation):
    factory = StubbedFactory()
    action = cls(AwsContext(factory), protected_patterns=["arn:*"])
    params = example_params(cls)
    with pytest.raises(ProtectedPrincipalError, match=f"^{cls.name}: refused: .* is a protected principal"):
        if operation == "plan":
            action.plan(params)
        else:
            action.apply(params, ContainmentRecord(action=cls.name))
    assert factory.calls == []
    for stubber in factory.stubbers:
        stubber.assert_no_pending_responses()


# -- bad input --------------------------------------------------------------------------------
def test_unknown_action_lists_valid_ones_on_one_line():
    with pytest.raises(UnknownActionError) as err:
        get_action("delete_everything")
    message = str(err.value)
    assert "\n" not in message and "'delete_everything'" in message
    for cls in ACTIONS:
        assert cls.name in message


def _action(name: str) -> Action[Any]:
    return get_action(name)(AwsContext(boto3.Session(region_name="us-east-1")))


def test_missing_parameter_is_named():
    with pytest.raises(ContainmentParamError, match=r"missing parameter 'access_key_id' \(the long-term access key"):
        _action("deactivate_access_key").parse_params({"user_name": "alice"})


def test_malformed_parameter_is_named():
    with pytest.raises(ContainmentParamError, match=r"parameter 'instance_id'='web-1' is malformed.*expected EC2"):
        _action("quarantine_instance").parse_params({"instance_id": "web-1"})
    with pytest.raises(ContainmentParamError, match="ASIA... keys are temporary"):
        _action("deactivate_access_key").parse_params({"user_name": "a", "access_key_id": "ASIAIOSFODNN7EXAMPLE"})
    with pytest.raises(ContainmentParamError, match="parameter 'event_selectors'.*expected JSON"):
        _action("restore_cloudtrail_logging").parse_params({"trail": "main", "event_selectors": "[{"})


def test_unknown_parameter_lists_valid_ones():
    with pytest.raises(ContainmentParamError, match=r"unknown parameter 'username' \(valid: user_name\)"):
        _action("deny_all_user_policy").parse_params({"username": "alice"})


def test_aws_error_is_one_line_with_the_code():
    session = boto3.Session(region_name="us-east-1")
    iam = session.client("iam")
    stubber = Stubber(iam)
    stubber.add_client_error("get_user", service_error_code="AccessDenied",
                             service_message="User: arn:aws:sts::1:assumed-role/x\nis not authorized to perform: iam:GetUser",
                             http_status_code=403)
    stubber.activate()

    class Factory:
        def client(self, name: str) -> Any:
            assert name == "iam"
            return iam

    action = get_action("deny_all_user_policy")(AwsContext(Factory(), account_id="123456789012", region="us-east-1"))
    with pytest.raises(ContainmentAwsError) as err:
        action.plan({"user_name": "alice"})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("deny_all_user_policy: AWS GetUser failed: AccessDenied: User:")


def test_endpoint_settings_are_honoured(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:4599")
    ctx = AwsContext(boto3.Session(region_name="us-east-1"))
    assert ctx.client("iam").meta.endpoint_url == "http://127.0.0.1:4599"
    assert ctx.client("ec2").meta.endpoint_url == "http://127.0.0.1:4566"
