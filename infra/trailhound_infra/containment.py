"""Containment: the Lambdas that act on AWS resources, and the one role they share.

The role's permissions for acting are ``trailhound.containment.registry.all_permissions()``
and nothing else (IAM cannot drift from the registered actions), in one policy of their own.
Its other policies are plumbing only: its records and idempotency tables, its log groups, X-Ray.
A Deny keeps the IAM write actions off TrailHound's own roles and the protected principals,
whatever a finding asks for (the actions also refuse them in code, before any call).

Two functions share the role:
- ``Contain`` — ``trailhound.handlers.contain.handler`` (one action for one finding; CLI,
  notebook and ad-hoc use; Powertools idempotency keyed on finding and action);
- ``ContainStep`` — ``trailhound.handlers.investigate.contain``, the investigation's contain step.
Context ``containmentMode`` (dry-run, the default / approval / automatic) and
``protectedPrincipals`` reach both as environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from trailhound_infra.functions import TrailHoundFunction

CONTAIN_HANDLER = "trailhound.handlers.contain.handler"
CONTAIN_STEP_HANDLER = "trailhound.handlers.investigate.contain"
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
        protected_arns = [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{p}*" for p in own_role_prefixes]
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
        common = dict(code=code, environment=environment, log_retention=log_retention,
                      removal_policy=removal_policy, role=self.role, timeout=Duration.minutes(5))
        self.contain = TrailHoundFunction(
            self, "Contain", handler=CONTAIN_HANDLER,
            description="Plans or applies one containment action for one finding (idempotent)", **common)
        self.contain_step = TrailHoundFunction(
            self, "ContainStep", handler=CONTAIN_STEP_HANDLER,
            description="The investigation's contain step: the finding's response action", **common)
        # After the functions exist: their tracing statements create the role's default policy.
        NagSuppressions.add_resource_suppressions(self.role, [{
            "id": "AwsSolutions-IAM5",
            "reason": "Containment role default policy: xray:PutTraceSegments/PutTelemetryRecords (active "
                      "tracing of the two contain Lambdas) accept only Resource '*'.",
            "appliesTo": ["Resource::*"]}], apply_to_children=True)

    @property
    def functions(self) -> list[TrailHoundFunction]:
        return [self.contain, self.contain_step]
