"""IAM containment: access keys, deny-all on users, role session revocation, console access."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import string
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field, field_validator

from trailhound.containment.base import Action, ActionParams
from trailhound.containment.errors import ContainmentError, ResourceNotFoundError
from trailhound.containment.models import (
    ContainmentRecord,
    Plan,
    Result,
    ResultStatus,
    Reversibility,
    utcnow,
)
from trailhound.containment.registry import register

IAM_NAME = r"^[\w+=,.@-]{1,64}$"
ROLE_ARN = r"^arn:aws[\w-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$"

DENY_ALL_POLICY_NAME = "TrailHoundDenyAll"
DENY_ALL_DOCUMENT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "TrailHoundContainmentDenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"}],
}
REVOKE_POLICY_NAME = "TrailHoundRevokeOlderSessions"


class UserParams(ActionParams):
    user_name: str = Field(pattern=IAM_NAME, description="IAM user name, e.g. alice")


class _IamAction(Action[Any]):
    def _user_arn(self, user_name: str) -> str:
        """Read the user (its ARN carries the path) and re-check protection on the real ARN."""
        with self.aws.call(self.name, "GetUser", resource=f"IAM user {user_name!r}"):
            user = self.aws.client("iam").get_user(UserName=user_name)["User"]
        arn = str(user["Arn"])
        self.ensure_not_protected(arn)
        return arn

    def _user_target(self, params: Any) -> list[str]:
        return [self.arn_template("iam", f"user/{params.user_name}", regional=False)]


# ---------------------------------------------------------------------------------------------
class DeactivateAccessKeyParams(UserParams):
    access_key_id: str = Field(
        pattern=r"^[A-Z0-9]{16,128}$", description="the long-term access key id, e.g. AKIAIOSFODNN7EXAMPLE"
    )

    @field_validator("access_key_id")
    @classmethod
    def _not_temporary(cls, value: str) -> str:
        if value.startswith("ASIA"):
            raise ValueError(
                "ASIA... keys are temporary STS credentials and cannot be deactivated; "
                "use revoke_role_sessions on the role that issued them"
            )
        return value


@register
class DeactivateAccessKey(_IamAction):
    """Set an IAM user's access key to Inactive (it is never deleted: the key id stays evidence).

    Example::

        trailhound contain deactivate_access_key --param user_name=alice \\
            --param access_key_id=AKIAIOSFODNN7EXAMPLE --apply
    """

    name = "deactivate_access_key"
    Params = DeactivateAccessKeyParams
    permissions = ("iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey")
    rollback_permissions = ("iam:UpdateAccessKey",)

    def target_arns(self, params: DeactivateAccessKeyParams) -> list[str]:
        return self._user_target(params)

    def _key_status(self, p: DeactivateAccessKeyParams) -> str:
        paginator = self.aws.client("iam").get_paginator("list_access_keys")
        for page in paginator.paginate(UserName=p.user_name):
            for key in page["AccessKeyMetadata"]:
                if key["AccessKeyId"] == p.access_key_id:
                    return str(key["Status"])
        raise ResourceNotFoundError(
            f"{self.name}: access key {p.access_key_id} of IAM user {p.user_name!r} does not exist"
        )

    def _plan(self, p: DeactivateAccessKeyParams) -> Plan:
        arn = self._user_arn(p.user_name)
        status = self._key_status(p)
        done = status == "Inactive"
        return Plan(
            action=self.name,
            targets=[arn],
            already_contained=done,
            changes=[] if done else [f"set access key {p.access_key_id} of {p.user_name} from {status} to Inactive"],
            notes=["the key is deactivated, not deleted; sessions already issued from it "
                   "(GetSessionToken / AssumeRole) stay valid until they expire: "
                   "pair with deny_all_user_policy to stop them"],
            current_state={"status": status},
        )

    def _apply(self, p: DeactivateAccessKeyParams, record: ContainmentRecord) -> Result:
        self._user_arn(p.user_name)
        status = self._key_status(p)
        if status == "Inactive":
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"access key {p.access_key_id} is already Inactive")
        record.save_before_state(status=status)
        self.aws.client("iam").update_access_key(UserName=p.user_name, AccessKeyId=p.access_key_id, Status="Inactive")
        return Result(status=ResultStatus.APPLIED,
                      changes=[f"access key {p.access_key_id} of {p.user_name}: {status} -> Inactive"])

    def _rollback(self, p: DeactivateAccessKeyParams, record: ContainmentRecord) -> Result:
        before = record.before_state.get("status")
        if before is None:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        with self.aws.call(self.name, "UpdateAccessKey", resource=f"access key {p.access_key_id} of {p.user_name!r}"):
            self.aws.client("iam").update_access_key(UserName=p.user_name, AccessKeyId=p.access_key_id, Status=before)
        return Result(status=ResultStatus.ROLLED_BACK,
                      changes=[f"access key {p.access_key_id} of {p.user_name}: Inactive -> {before}"])


# ---------------------------------------------------------------------------------------------
class _InlinePolicyAction(_IamAction):
    """Put / restore / delete one TrailHound inline policy on a user or role."""

    kind: str  # "user" | "role"
    policy_name: str

    def _get_policy(self, principal: str) -> dict[str, Any] | None:
        iam = self.aws.client("iam")
        try:
            if self.kind == "user":
                doc = iam.get_user_policy(UserName=principal, PolicyName=self.policy_name)["PolicyDocument"]
            else:
                doc = iam.get_role_policy(RoleName=principal, PolicyName=self.policy_name)["PolicyDocument"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise
        return json.loads(doc) if isinstance(doc, str) else dict(doc)

    def _put_policy(self, principal: str, document: dict[str, Any]) -> None:
        iam = self.aws.client("iam")
        text = json.dumps(document, separators=(",", ":"))
        if self.kind == "user":
            iam.put_user_policy(UserName=principal, PolicyName=self.policy_name, PolicyDocument=text)
        else:
            iam.put_role_policy(RoleName=principal, PolicyName=self.policy_name, PolicyDocument=text)

    def _delete_policy(self, principal: str) -> None:
        iam = self.aws.client("iam")
        try:
            if self.kind == "user":
                iam.delete_user_policy(UserName=principal, PolicyName=self.policy_name)
            else:
                iam.delete_role_policy(RoleName=principal, PolicyName=self.policy_name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise

    def _restore(self, principal: str, record: ContainmentRecord) -> Result:
        if "policy" not in record.before_state:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        before = record.before_state["policy"]
        with self.aws.call(self.name, "rollback", resource=f"IAM {self.kind} {principal!r}"):
            if before is None:
                self._delete_policy(principal)
                change = f"deleted inline policy {self.policy_name} from {self.kind} {principal}"
            else:
                self._put_policy(principal, before)
                change = f"restored previous inline policy {self.policy_name} on {self.kind} {principal}"
        return Result(status=ResultStatus.ROLLED_BACK, changes=[change])


@register
class DenyAllUserPolicy(_InlinePolicyAction):
    """Attach an inline deny-all policy to an IAM user (stops its keys and its sessions).

    Example::

        trailhound contain deny_all_user_policy --param user_name=alice --apply
    """

    name = "deny_all_user_policy"
    Params = UserParams
    kind = "user"
    policy_name = DENY_ALL_POLICY_NAME
    permissions = ("iam:GetUser", "iam:GetUserPolicy", "iam:PutUserPolicy")
    rollback_permissions = ("iam:DeleteUserPolicy", "iam:PutUserPolicy")

    def target_arns(self, params: UserParams) -> list[str]:
        return self._user_target(params)

    def _plan(self, p: UserParams) -> Plan:
        arn = self._user_arn(p.user_name)
        current = self._get_policy(p.user_name)
        done = current == DENY_ALL_DOCUMENT
        return Plan(
            action=self.name, targets=[arn], already_contained=done,
            changes=[] if done else [f"put inline policy {self.policy_name} (Deny * on *) on user {p.user_name}"],
            notes=["an explicit deny overrides every allow: the user's keys, console and sessions "
                   "issued from its credentials lose all access at once"],
            current_state={"policy": current},
        )

    def _apply(self, p: UserParams, record: ContainmentRecord) -> Result:
        self._user_arn(p.user_name)
        current = self._get_policy(p.user_name)
        if current == DENY_ALL_DOCUMENT:
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"user {p.user_name} already has {self.policy_name}")
        record.save_before_state(policy=current)
        self._put_policy(p.user_name, DENY_ALL_DOCUMENT)
        return Result(status=ResultStatus.APPLIED, changes=[f"put {self.policy_name} on user {p.user_name}"])

    def _rollback(self, p: UserParams, record: ContainmentRecord) -> Result:
        return self._restore(p.user_name, record)


# ---------------------------------------------------------------------------------------------
class RevokeRoleSessionsParams(ActionParams):
    role_name: str = Field(description="IAM role name or role ARN, e.g. app-role")
    issued_before: dt.datetime | None = Field(
        default=None,
        description="deny sessions issued before this UTC time (ISO 8601; default: now). "
                    "A later time moves an existing cutoff forward",
    )

    @field_validator("role_name")
    @classmethod
    def _role(cls, value: str) -> str:
        if not (re.fullmatch(ROLE_ARN, value) or re.fullmatch(IAM_NAME, value)):
            raise ValueError("expected a role name or arn:aws:iam::<account>:role/<name>")
        return value

    @field_validator("issued_before")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC) if value is not None else None

    @property
    def name(self) -> str:
        return self.role_name.rsplit("/", 1)[-1]


def _cutoff_of(document: dict[str, Any] | None) -> dt.datetime | None:
    if not document:
        return None
    for stmt in document.get("Statement", []):
        value = stmt.get("Condition", {}).get("DateLessThan", {}).get("aws:TokenIssueTime")
        if value:
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return None


def revoke_document(cutoff: dt.datetime) -> dict[str, Any]:
    stamp = cutoff.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TrailHoundRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": stamp}},
        }],
    }


@register
class RevokeRoleSessions(_InlinePolicyAction):
    """Deny every session of one role issued before now (aws:TokenIssueTime), like the console's
    "Revoke active sessions". New sessions keep working; only this role is touched.

    Example::

        trailhound contain revoke_role_sessions --param role_name=app-role --apply
    """

    name = "revoke_role_sessions"
    Params = RevokeRoleSessionsParams
    kind = "role"
    policy_name = REVOKE_POLICY_NAME
    permissions = (
        "iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy",
        "iam:ListInstanceProfilesForRole", "lambda:ListFunctions",
    )
    rollback_permissions = ("iam:DeleteRolePolicy", "iam:PutRolePolicy")

    def target_arns(self, params: RevokeRoleSessionsParams) -> list[str]:
        if params.role_name.startswith("arn:"):
            return [params.role_name]
        return [self.arn_template("iam", f"role/{params.name}", regional=False)]

    def _role(self, p: RevokeRoleSessionsParams) -> dict[str, Any]:
        with self.aws.call(self.name, "GetRole", resource=f"IAM role {p.name!r}"):
            role = self.aws.client("iam").get_role(RoleName=p.name)["Role"]
        self.ensure_not_protected(str(role["Arn"]))
        if str(role.get("Path", "")).startswith("/aws-service-role/"):
            raise ContainmentError(f"{self.name}: {role['Arn']} is a service-linked role: its policies cannot be changed")
        return dict(role)

    def _users_of(self, role_name: str, role_arn: str) -> tuple[list[str], list[str]]:
        iam = self.aws.client("iam")
        profiles = [
            str(ip["Arn"])
            for page in iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=role_name)
            for ip in page["InstanceProfiles"]
        ]
        functions = [
            str(fn["FunctionArn"])
            for page in self.aws.client("lambda").get_paginator("list_functions").paginate()
            for fn in page["Functions"]
            if fn.get("Role") == role_arn
        ]
        return profiles, functions

    def _decide(self, p: RevokeRoleSessionsParams, current: dict[str, Any] | None) -> tuple[bool, dt.datetime]:
        existing = _cutoff_of(current)
        wanted = p.issued_before or utcnow().replace(microsecond=0)
        if existing is not None and (p.issued_before is None or existing >= p.issued_before):
            return True, existing
        return False, wanted

    def _plan(self, p: RevokeRoleSessionsParams) -> Plan:
        role = self._role(p)
        current = self._get_policy(p.name)
        done, cutoff = self._decide(p, current)
        profiles, functions = self._users_of(p.name, str(role["Arn"]))
        notes = ["only this role is changed; other roles on the same instances or accounts are untouched"]
        if profiles:
            notes.append("instance profiles using this role (their EC2 instances fetch new, valid credentials "
                         "on the next refresh; calls with old credentials are denied until then): "
                         + ", ".join(profiles))
        if functions:
            notes.append("Lambda functions using this role (warm execution environments hold older credentials "
                         "and fail until they are replaced): " + ", ".join(functions))
        if not profiles and not functions:
            notes.append("no instance profile or Lambda function uses this role")
        return Plan(
            action=self.name, targets=[str(role["Arn"])], already_contained=done,
            changes=[] if done else [f"put inline policy {self.policy_name} on role {p.name}: deny all actions "
                                     f"for sessions issued before {cutoff.isoformat().replace('+00:00', 'Z')}"],
            notes=notes,
            current_state={"policy": current, "instance_profiles": profiles, "functions": functions},
        )

    def _apply(self, p: RevokeRoleSessionsParams, record: ContainmentRecord) -> Result:
        self._role(p)
        current = self._get_policy(p.name)
        done, cutoff = self._decide(p, current)
        stamp = cutoff.isoformat().replace("+00:00", "Z")
        if done:
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"sessions of role {p.name} issued before {stamp} are already denied")
        record.save_before_state(policy=current)
        self._put_policy(p.name, revoke_document(cutoff))
        return Result(status=ResultStatus.APPLIED, changes=[f"role {p.name}: sessions issued before {stamp} denied"],
                      details={"issued_before": stamp})

    def _rollback(self, p: RevokeRoleSessionsParams, record: ContainmentRecord) -> Result:
        return self._restore(p.name, record)


# ---------------------------------------------------------------------------------------------
def random_password(length: int = 32) -> str:
    """A password meeting any IAM password policy's character-class rules."""
    symbols = "!@#$%^&*()_+-=[]{}|'"
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, symbols]
    chars = [secrets.choice(c) for c in classes]
    alphabet = "".join(classes)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


@register
class DisableConsoleAccess(_IamAction):
    """Delete an IAM user's login profile (console password) so it cannot sign in.

    The password cannot be restored: rollback creates a new login profile with a random password
    that must be changed at first sign-in, shown once in the rollback output and never stored.

    Example::

        trailhound contain disable_console_access --param user_name=alice --apply
    """

    name = "disable_console_access"
    Params = UserParams
    reversibility = Reversibility.PARTIAL
    permissions = ("iam:GetUser", "iam:GetLoginProfile", "iam:DeleteLoginProfile")
    rollback_permissions = ("iam:CreateLoginProfile", "iam:GetLoginProfile")

    def target_arns(self, params: UserParams) -> list[str]:
        return self._user_target(params)

    def _profile(self, user_name: str) -> dict[str, Any] | None:
        try:
            profile = self.aws.client("iam").get_login_profile(UserName=user_name)["LoginProfile"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise
        return {"CreateDate": profile.get("CreateDate"),
                "PasswordResetRequired": bool(profile.get("PasswordResetRequired", False))}

    def _plan(self, p: UserParams) -> Plan:
        arn = self._user_arn(p.user_name)
        profile = self._profile(p.user_name)
        done = profile is None
        return Plan(
            action=self.name, targets=[arn], already_contained=done,
            changes=[] if done else [f"delete the login profile (console password) of user {p.user_name}"],
            irreversible=[] if done else [
                "the current console password cannot be restored: rollback creates a new login profile "
                "with a random password that must be changed at first sign-in"],
            notes=["console sessions already signed in are not ended by this: pair with deny_all_user_policy"],
            current_state={"login_profile": profile},
        )

    def _apply(self, p: UserParams, record: ContainmentRecord) -> Result:
        self._user_arn(p.user_name)
        profile = self._profile(p.user_name)
        if profile is None:
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"user {p.user_name} has no console password (already gone)")
        record.save_before_state(login_profile=profile)
        try:
            self.aws.client("iam").delete_login_profile(UserName=p.user_name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
        return Result(status=ResultStatus.APPLIED, changes=[f"deleted the login profile of user {p.user_name}"])

    def _rollback(self, p: UserParams, record: ContainmentRecord) -> Result:
        if not record.before_state.get("login_profile"):
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        with self.aws.call(self.name, "GetLoginProfile", resource=f"IAM user {p.user_name!r}"):
            if self._profile(p.user_name) is not None:
                return Result(status=ResultStatus.ROLLED_BACK,
                              message=f"user {p.user_name} already has a login profile again; left as is")
        password = random_password()
        with self.aws.call(self.name, "CreateLoginProfile", resource=f"IAM user {p.user_name!r}"):
            self.aws.client("iam").create_login_profile(
                UserName=p.user_name, Password=password, PasswordResetRequired=True)
        return Result(
            status=ResultStatus.ROLLED_BACK,
            changes=[f"created a new login profile for user {p.user_name} (password reset required)"],
            message="the previous password cannot be restored: give the user the temporary password "
                    "below over a secure channel; it is not stored anywhere",
            secret=password,
        )
