"""Containment: the Lambdas that act on AWS resources, and the one role they share.

The role's permissions for acting are ``trailhound.containment.registry.all_permissions()``
and nothing else (IAM cannot drift from the registered actions), in one policy of their own.
Its other policies are plumbing only: its records and idempotency tables, its log groups, X-Ray.
A Deny keeps the IAM write actions off TrailHound's own roles and the protected principals,
whatever a finding asks for (the actions also refuse them in code, before any call).

One function has the role: ``Contain`` (``trailhound.handlers.contain``; its ``handler``, or
``lambda_handler`` while that is the name the module defines). It is both the investigation's
contain step (it accepts the workflow state as is) and the entry point for a single action on a
finding; Powertools idempotency keys it on (finding, action). Context ``containmentMode``
(dry-run, the default / approval / automatic) and ``protectedPrincipals`` reach it as
environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from trailhound_infra.functions import TrailHoundFunction, handler_path

CONTAIN_MODULE = "trailhound.handlers.contain"
_READ_ONLY_VERBS = ("Get", "List", "Describe")


def registered_permissions() -> list[str]:
    """The union of every registered containment action's declared IAM permissions."""
    from trailhound.containment.registry import all_permissions

    return all_permissions()


def read_only(permissions: Sequence[str]) -> list[str]:
    """The Get/List/Describe subset: enough for ``plan`` (a dry run), never for ``apply``."""
    return sorted(p for p in permissions if p.split(":", 1)[1].startswith(_READ_ONLY_VERBS))


def principal_write_actions(permissions: Sequence[str]) -> list[str]:
    """The registered IAM actions that change a user or role (the ones the Deny covers)."""
    return sorted(p for p in permissions if p.startswith("iam:") and not p.split(":", 1)[1].startswith(_READ_ONLY_VERBS))


class Containment(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, environment: Mapping[str, str],
                 own_role_prefixes: Sequence[str], protected_principals: Sequence[str],
                 log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.permissions = registered_permissions()
        if not self.permissions:
            raise ValueError("trailhound.containment.registry.all_permissions() is empty: no containment action "
                             "declares permissions, so the containment role would be useless")
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description="TrailHound containment: the registered actions' permissions only")
        self.actions_policy = iam.Policy(self, "ActionsPolicy", roles=[self.role], statements=[
            iam.PolicyStatement(sid="RegisteredContainmentActions", actions=self.permissions, resources=["*"])])
        prefixes = dict.fromkeys([*own_role_prefixes, "TrailHound", "trailhound"])
        protected_arns = [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{p}*" for p in prefixes]
        protected_arns += [p for p in protected_principals if p.split(":")[2:3] == ["iam"]]
        deny_actions = principal_write_actions(self.permissions)
        if deny_actions:
            self.actions_policy.add_statements(iam.PolicyStatement(
                sid="NeverTouchProtectedPrincipals", effect=iam.Effect.DENY, actions=deny_actions,
                resources=protected_arns))
        NagSuppressions.add_resource_suppressions(self.actions_policy, [{
            "id": "AwsSolutions-IAM5",
            "reason": "Containment/ActionsPolicy: containment acts on whichever key, user, role, instance, "
                      "bucket, trail, snapshot or function a finding names, which is not known at deploy "
                      "time, so the registered actions are allowed on Resource '*'; the action list is "
                      "exactly the registry's, and protected principals are denied explicitly.",
            "appliesTo": ["Resource::*"]}])
        self.contain = TrailHoundFunction(
            self, "Contain", handler=handler_path(CONTAIN_MODULE, "handler", "lambda_handler"),
            function_name="trailhound-contain",
            description="Plans or applies the containment action of a finding (idempotent)", code=code,
            environment=environment, log_retention=log_retention, removal_policy=removal_policy,
            role=self.role, timeout=Duration.minutes(5))
        # After the function exists: its tracing statement creates the role's default policy.
        NagSuppressions.add_resource_suppressions(self.role, [{
            "id": "AwsSolutions-IAM5",
            "reason": "Containment role default policy: xray:PutTraceSegments/PutTelemetryRecords (active "
                      "tracing of the contain Lambda) accept only Resource '*'.",
            "appliesTo": ["Resource::*"]}], apply_to_children=True)

    def grant_dry_run(self, role: iam.IRole, who: str) -> None:
        """Plans (dry runs) only: the Get/List/Describe subset of the registered permissions."""
        actions = read_only(self.permissions)
        if not actions:
            return
        scope = Construct(self, "DryRun" + "".join(c for c in who if c.isalnum()))
        policy = iam.Policy(scope, "Policy", roles=[role], statements=[
            iam.PolicyStatement(sid="ContainmentDryRun", actions=actions, resources=["*"])])
        NagSuppressions.add_resource_suppressions(policy, [{
            "id": "AwsSolutions-IAM5",
            "reason": f"{who} dry-run policy: plans read whichever key, user, role, instance, bucket, trail, "
                      "snapshot or function is under investigation, unknown at deploy time; the actions are "
                      "only the Get/List/Describe subset of the containment registry's.",
            "appliesTo": ["Resource::*"]}])
