"""One TrailHound Lambda: its own role, its own log group, X-Ray, the shared code asset.

Roles are created here (not by ``lambda.Function``) so no AWS managed policy is attached:
the role can write to its own log group and send traces, and gets everything else by grants.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_11  # the interpreter CI tests on; see docs/deploy.md
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def defined_functions(module: str) -> set[str] | None:
    """Top-level callables of ``module`` (read with ``ast``, never imported); None if absent."""
    path = FUNCTIONS_DIR.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def handler_path(module: str, *candidates: str) -> str:
    """``module.name`` for the first candidate the module defines (the first if none does yet)."""
    defined = defined_functions(module) or set()
    name = next((c for c in candidates if c in defined), candidates[0])
    return f"{module}.{name}"


class TrailHoundFunction(Construct):
    """A Python Lambda running ``handler`` from the shared TrailHound asset."""

    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, handler: str,
                 description: str, environment: Mapping[str, str], log_retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy, timeout: Duration | None = None,
                 memory_size: int = 512, role: iam.Role | None = None,
                 dead_letter_queue: sqs.IQueue | None = None, function_name: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.role = role or iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                                     description=f"TrailHound {construct_id}: {description}")
        self.function = lambda_.Function(
            self, "Function",
            function_name=function_name,
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
        module, _, name = handler.rpartition(".")
        defined = defined_functions(module)
        if defined is None or name not in defined:
            Annotations.of(self).add_warning_v2(
                "trailhound:handler-missing",
                f"{construct_id}: handler {handler} is not defined in functions/ yet; the function "
                "deploys but fails on invocation until it is")
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
