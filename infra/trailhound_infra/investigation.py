"""The investigation state machine, built from the one workflow definition.

The definition is ``functions/trailhound/investigation/workflow.asl.json`` (the file the local
runner and the workflow tests execute too). Its ``${...}`` placeholders are substituted with the
ARNs of the step Lambdas (handlers ``trailhound.handlers.investigate.<step>``); a placeholder
this construct does not know fails the synth, so the definition and the stack cannot drift.
Until that file exists, ``_fallback_workflow.asl.json`` beside this module stands in (same
placeholders, same approval step), so the stack and its tests stay buildable.

Logging: ALL events with execution data to a CloudWatch log group; X-Ray tracing on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagSuppressions
from constructs import Construct

from trailhound_infra.assets import PACKAGE_DIR
from trailhound_infra.functions import TrailHoundFunction

WORKFLOW_FILE = PACKAGE_DIR / "investigation" / "workflow.asl.json"
FALLBACK_WORKFLOW_FILE = Path(__file__).with_name("_fallback_workflow.asl.json")
HANDLER_MODULE = "trailhound.handlers.investigate"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

# Step Lambda -> (handler function name, placeholder, timeout, description)
STEPS: dict[str, tuple[str, str, Duration, str]] = {
    "Enrich": ("enrich", "EnrichFunctionArn", Duration.minutes(5),
               "Runs the investigation SQL for the finding's actor, keys and source IPs"),
    "Decide": ("decide", "DecideFunctionArn", Duration.seconds(30),
               "Decides auto-contain / needs approval / notify only from finding, enrichment, policy"),
    "RequestApproval": ("request_approval", "RequestApprovalFunctionArn", Duration.seconds(30),
                        "Stores the approval task token and asks a person to approve or reject"),
    "Verify": ("verify", "VerifyFunctionArn", Duration.minutes(5),
               "Re-queries the actor's activity after containment"),
    "Notify": ("notify", "NotifyFunctionArn", Duration.seconds(60),
               "Records the investigation and sends the notification"),
}
CONTAIN_PLACEHOLDER = "ContainFunctionArn"


def workflow_file() -> Path:
    return WORKFLOW_FILE if WORKFLOW_FILE.is_file() else FALLBACK_WORKFLOW_FILE


def placeholders(definition: str) -> set[str]:
    return set(_PLACEHOLDER.findall(definition))


def substitute(definition: str, values: Mapping[str, str]) -> str:
    """Replace each ``${Name}`` by its value (CDK tokens become an ``Fn::Join``). Not ``Fn::Sub``:
    any other ``${`` in the definition (a comment, a literal) is left exactly as written."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), definition)


class Investigation(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, environment: Mapping[str, str],
                 contain: lambda_.IFunction, log_retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, TrailHoundFunction] = {}
        for name, (handler, _, timeout, description) in STEPS.items():
            self.functions[name] = TrailHoundFunction(
                self, name, code=code, handler=f"{HANDLER_MODULE}.{handler}", description=description,
                function_name=f"trailhound-investigate-{handler.replace('_', '-')}",
                environment=environment, log_retention=log_retention, removal_policy=removal_policy,
                timeout=timeout)
        self.definition_path = workflow_file()
        definition = self.definition_path.read_text(encoding="utf-8")
        json.loads(definition)  # a malformed definition fails here, naming the file below
        substitutions = {placeholder: self.functions[name].function_arn
                         for name, (_, placeholder, _, _) in STEPS.items()}
        substitutions[CONTAIN_PLACEHOLDER] = contain.function_arn
        unknown = placeholders(definition) - set(substitutions)
        if unknown:
            raise ValueError(f"{self.definition_path}: unknown placeholder(s) "
                             + ", ".join("${" + u + "}" for u in sorted(unknown))
                             + f"; this stack substitutes {', '.join(sorted(substitutions))}")
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name="trailhound-investigation",
            definition_body=sfn.DefinitionBody.from_string(substitute(definition, substitutions)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            timeout=Duration.days(7),
            comment="TrailHound investigation",
        )
        invoked = [f.function for f in self.functions.values()] + [contain]
        for fn in invoked:
            fn.grant_invoke(self.state_machine)
        NagSuppressions.add_resource_suppressions(self.state_machine.role, [
            {"id": "AwsSolutions-IAM5",
             "reason": "Investigation state machine role: the CloudWatch Logs vended-delivery actions "
                       "(logs:CreateLogDelivery, logs:DescribeResourcePolicies, ...) and X-Ray "
                       "PutTraceSegments accept only Resource '*'.",
             "appliesTo": ["Resource::*"]},
            {"id": "AwsSolutions-IAM5",
             "reason": "Investigation state machine role: lambda:InvokeFunction on '<step function ARN>:*' "
                       "covers the versions and aliases of the six Lambdas (five steps and contain) it invokes, nothing else.",
             "appliesTo": [{"regex": "/^Resource::<.+\\.Arn>:\\*$/g"}]},
        ], apply_to_children=True)
