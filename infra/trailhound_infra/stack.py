"""The TrailHound stack: composes the components, grants, and outputs. Nothing else."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from trailhound_infra.assets import lambda_code
from trailhound_infra.containment import Containment
from trailhound_infra.detections import Detections, ScheduleGroup
from trailhound_infra.event_store import EventStore
from trailhound_infra.findings import Findings
from trailhound_infra.investigation import Investigation
from trailhound_infra.monitoring import Monitoring
from trailhound_infra.notebook import Notebook
from trailhound_infra.settings import Settings
from trailhound_infra.state import State

LAMBDA_SQL_DIR = "/var/task/trailhound/_sql"


class TrailHoundStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings,
                 schedule_groups: list[ScheduleGroup] | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="TrailHound: automated incident response over "
                         "CloudTrail (detections, investigations, containment, playbooks)", **kwargs)
        self.settings = settings
        data_removal = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        logs_removal = RemovalPolicy.DESTROY
        retention = logs.RetentionDays.ONE_MONTH  # placeholder: the LogRetention aspect sets every group
        code = lambda_code(settings.skip_dependency_bundling)

        self.store = EventStore(self, "EventStore", settings=settings, removal_policy=data_removal)
        self.state = State(self, "State", removal_policy=data_removal, deletion_protection=settings.retain_data)
        self.findings = Findings(self, "Findings", notification_email=settings.notification_email,
                                 security_hub=settings.security_hub, removal_policy=data_removal)
        # The names the handlers read (trailhound/handlers/*.py); see docs/deploy.md.
        env = {
            "TRAILHOUND_STORE": self.store.store_spec,
            "TRAILHOUND_SQL_DIR": LAMBDA_SQL_DIR,
            "TRAILHOUND_STACK_PREFIX": self.stack_name,
            "TRAILHOUND_CONTAINMENT_MODE": settings.containment_mode.value,
            "CONTAINMENT_MODE": settings.containment_mode.value,
            "TRAILHOUND_PROTECTED_PRINCIPALS": ",".join(settings.protected_principals),
            "TRAILHOUND_STATE_TABLE": self.state.state.table_name,
            "CONTAINMENT_TABLE": self.state.containments.table_name,
            "INVESTIGATIONS_TABLE": self.state.investigations.table_name,
            "IDEMPOTENCY_TABLE": self.state.idempotency.table_name,
            "TRAILHOUND_EVENT_BUS": self.findings.bus.event_bus_name,
            "SNS_TOPIC_ARN": self.findings.topic.topic_arn,
            "TRAILHOUND_SECURITY_HUB": "true" if settings.security_hub else "false",
            "POWERTOOLS_SERVICE_NAME": "trailhound",
            "POWERTOOLS_METRICS_NAMESPACE": "TrailHound",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        common: dict[str, Any] = dict(code=code, environment=env, log_retention=retention, removal_policy=logs_removal)
        self.detections = Detections(self, "Detections", groups=schedule_groups, **common)
        self.containment = Containment(self, "Containment", own_role_prefixes=[f"{self.stack_name}-"],
                                       protected_principals=settings.protected_principals, **common)
        self.investigation = Investigation(self, "Investigation", contain=self.containment.contain.function,
                                           **common)
        self.findings.route_to(self.investigation.state_machine)
        self.notebook: Notebook | None = None
        if settings.notebook:
            self.notebook = Notebook(
                self, "Notebook", environment={**env, "TRAILHOUND_STATE_MACHINE_ARN":
                                               self.investigation.state_machine.state_machine_arn,
                                               "AWS_DEFAULT_REGION": self.region},
                direct_internet=settings.notebook_internet, engine=self.store.engine,
                skip_dependencies=settings.skip_dependency_bundling, log_retention=retention,
                removal_policy=data_removal)
        steps = self.investigation.functions
        self.monitoring = Monitoring(
            self, "Monitoring", topic=self.findings.topic, detect=self.detections.detect.function,
            state_machine=self.investigation.state_machine,
            dead_letter_queues=[("Detections", self.detections.dead_letters),
                                ("Findings", self.findings.dead_letters)],
            other_functions=[(name, f.function) for name, f in steps.items()]
            + [("Contain", self.containment.contain.function)])

        self._grants()
        self._outputs()

    # --- grants -------------------------------------------------------------------------------
    def _grants(self) -> None:
        steps = self.investigation.functions
        detect = self.detections.detect.role
        self.store.grant_query(detect)
        self.state.state.grant_read_write_data(detect)
        self.findings.grant_publish(detect)
        for name in ("Enrich", "Verify"):
            self.store.grant_query(steps[name].role)
        for name in ("RequestApproval", "Notify"):
            self.state.investigations.grant_read_write_data(steps[name].role)
            self.findings.topic.grant_publish(steps[name].role)
        # Verify re-plans the action (read-only) to confirm it is still in effect.
        self.state.containments.grant_read_data(steps["Verify"].role)
        self.containment.grant_dry_run(steps["Verify"].role, "Investigation/Verify")
        contain = self.containment.role
        self.state.containments.grant_read_write_data(contain)
        self.state.idempotency.grant_read_write_data(contain)
        self._suppress_grant_wildcards(detect, "Detections/Detect", query=True, table=True, topic=True)
        self._suppress_grant_wildcards(steps["Enrich"].role, "Investigation/Enrich", query=True)
        self._suppress_grant_wildcards(steps["Verify"].role, "Investigation/Verify", query=True, table=True)
        for name in ("RequestApproval", "Notify"):
            self._suppress_grant_wildcards(steps[name].role, f"Investigation/{name}", table=True, topic=True)
        self._suppress_grant_wildcards(contain, "Containment/Role", table=True)
        if self.notebook is not None:
            role = self.notebook.role
            self.store.grant_query(role)
            self.state.investigations.grant_read_write_data(role)
            self.state.containments.grant_read_data(role)
            self.state.state.grant_read_data(role)
            self.investigation.state_machine.grant_task_response(role)
            self.containment.grant_dry_run(role, "Notebook/Role")
            self._suppress_grant_wildcards(role, "Notebook/Role", query=True, table=True, bundle=True)

    def _suppress_grant_wildcards(self, role: iam.IRole, who: str, *, query: bool = False, table: bool = False,
                                  topic: bool = False, bundle: bool = False) -> None:
        entries: list[dict[str, Any]] = []
        if query and self.store.query_wildcards():
            entries.append({
                "id": "AwsSolutions-IAM5",
                "reason": f"{who} queries the Athena table: Athena reads the trail's log objects under "
                          "AWSLogs/ and writes result objects under results/ with the caller's "
                          "credentials, and the object keys are only known at query time.",
                "appliesTo": self.store.query_wildcards()})
        if table or topic or bundle:
            entries.append({
                "id": "AwsSolutions-IAM5",
                "reason": f"{who}: CDK's grant on a TrailHound KMS key (DynamoDB table / SNS topic encryption) "
                          "uses kms:GenerateDataKey* and kms:ReEncrypt*, scoped to that one key's ARN.",
                "appliesTo": ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"]})
        if bundle:
            entries.append({
                "id": "AwsSolutions-IAM5",
                "reason": f"{who} reads the notebook bundle asset: CDK's asset grant is s3:GetObject*/List* "
                          "on the bootstrap assets bucket, which the lifecycle script downloads at start.",
                "appliesTo": ["Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*",
                              {"regex": "/^Resource::arn:<AWS::Partition>:s3:::cdk-.+/\\*$/g"}]})
        if entries:
            NagSuppressions.add_resource_suppressions(role, entries, apply_to_children=True)

    # --- outputs ------------------------------------------------------------------------------
    def _outputs(self) -> None:
        def out(name: str, value: str, description: str) -> None:
            CfnOutput(self, name, value=value, description=description)

        out("Store", self.store.store_spec, "TRAILHOUND_STORE: pass as --store to the trailhound CLI")
        out("EventBusName", self.findings.bus.event_bus_name, "EventBridge bus the findings are put on")
        out("FindingsTopicArn", self.findings.topic.topic_arn, "SNS topic for findings and alarms (KMS-encrypted)")
        out("StateMachineArn", self.investigation.state_machine.state_machine_arn, "Investigation state machine")
        out("DetectFunctionName", self.detections.detect.function.function_name, "The detect Lambda")
        out("ContainFunctionName", self.containment.contain.function.function_name, "The contain Lambda")
        out("StateTableName", self.state.state.table_name, "Scheduler watermarks and ledger")
        out("ContainmentTableName", self.state.containments.table_name, "Containment records")
        out("InvestigationTableName", self.state.investigations.table_name, "Investigation records and approvals")
        out("ContainmentMode", self.settings.containment_mode.value, "dry-run / approval / automatic")
        if self.store.engine == "athena":
            assert self.store.log_bucket and self.store.results_bucket and self.store.trail
            out("TrailBucketName", self.store.log_bucket.bucket_name, "CloudTrail log bucket")
            out("QueryResultsBucketName", self.store.results_bucket.bucket_name, "Athena query results")
            out("TrailArn", self.store.trail.trail_arn, "The multi-Region trail this stack created")
        if self.notebook is not None:
            out("NotebookInstanceName", self.notebook.instance.attr_notebook_instance_name,
                "SageMaker notebook instance with the playbooks (open it from the SageMaker console)")

