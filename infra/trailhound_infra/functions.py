"""One TrailHound Lambda: its own role, its own log group, X-Ray, the shared code asset.

Roles are created here (not by ``lambda.Function``) so no AWS managed policy is attached:
the role can write to its own log group and send traces, and gets everything else by grants.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_11  # the interpreter CI tests on; see docs/deploy.md


class TrailHoundFunction(Construct):
    """A Python Lambda running ``handler`` from the shared TrailHound asset."""

    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, handler: str,
                 description: str, environment: Mapping[str, str], log_retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy, timeout: Duration | None = None,
                 memory_size: int = 512, role: iam.Role | None = None,
                 dead_letter_queue: sqs.IQueue | None = None) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.role = role or iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                                     description=f"TrailHound {construct_id}: {description}")
        self.function = lambda_.Function(
            self, "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=code,
            handler=handler,
            description=description,
            role=self.role,
            timeout=timeout or Duration.seconds(60),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment=dict(environment),
            dead_letter_queue=dead_letter_queue,
        )
        self.log_group.grant_write(self.role)
        NagSuppressions.add_resource_suppressions(
            self.function,
            [{"id": "AwsSolutions-L1",
              "reason": f"{construct_id} runs on Python 3.11, the version CI tests the trailhound package "
                        "on and the one its bundled wheels are resolved for; raise RUNTIME in "
                        "infra/trailhound_infra/functions.py together with the CI interpreter."}],
        )
        if role is None:  # a role passed in is suppressed (or not) by its owner
            NagSuppressions.add_resource_suppressions(
                self.role,
                [{"id": "AwsSolutions-IAM5",
                  "reason": f"{construct_id}: xray:PutTraceSegments and xray:PutTelemetryRecords (active "
                            "tracing) support no resource-level permissions, only Resource '*'.",
                  "appliesTo": ["Resource::*"]}],
                apply_to_children=True,
            )

    @property
    def function_arn(self) -> str:
        return self.function.function_arn

    def add_environment(self, key: str, value: str) -> None:
        self.function.add_environment(key, value)
