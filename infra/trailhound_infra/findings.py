"""Where findings go: the ``trailhound`` EventBridge bus, a rule that starts an investigation
for each finding, an SNS topic encrypted with its own KMS key (with an e-mail subscription from
context ``notificationEmail``), and Security Hub import when context ``securityHub`` is true.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagSuppressions
from constructs import Construct

BUS_NAME = "trailhound"
EVENT_SOURCE = "trailhound"
DETAIL_TYPE = "TrailHound Finding"


class Findings(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, notification_email: str | None,
                 security_hub: bool, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.security_hub = security_hub
        self.bus = events.EventBus(self, "Bus", event_bus_name=BUS_NAME, description="TrailHound findings")
        self.key = kms.Key(self, "TopicKey", enable_key_rotation=True, removal_policy=removal_policy,
                           pending_window=Duration.days(7),
                           description="TrailHound: encrypts the findings and alarms topic")
        # CloudWatch alarms publish to the encrypted topic as the cloudwatch service.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}))
        self.topic = sns.Topic(self, "Topic", display_name="TrailHound findings", master_key=self.key,
                               enforce_ssl=True)
        if notification_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(notification_email))
        self.dead_letters = sqs.Queue(self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED,
                                      enforce_ssl=True, retention_period=Duration.days(14))
        NagSuppressions.add_resource_suppressions(self.dead_letters, [{
            "id": "AwsSolutions-SQS3",
            "reason": "Findings/DeadLetters is itself the dead-letter queue of the finding -> "
                      "investigation rule target; a DLQ of a DLQ would only hide failures."}])
        self.rule: events.Rule | None = None

    def route_to(self, state_machine: sfn.IStateMachine) -> events.Rule:
        """Every finding on the bus starts one investigation (input: finding + investigation id)."""
        self.rule = events.Rule(
            self, "ToInvestigation", event_bus=self.bus, rule_name="trailhound-finding-to-investigation",
            description="TrailHound: start an investigation for each finding",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE], detail_type=[DETAIL_TYPE]))
        self.rule.add_target(targets.SfnStateMachine(
            state_machine,
            input=events.RuleTargetInput.from_object({
                "investigation_id": events.EventField.from_path("$.id"),
                "finding": events.EventField.from_path("$.detail"),
            }),
            dead_letter_queue=self.dead_letters, retry_attempts=3, max_event_age=Duration.hours(2)))
        return self.rule

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """Put findings on the bus, publish to the topic, import to Security Hub when enabled."""
        self.bus.grant_put_events_to(grantee)
        self.topic.grant_publish(grantee)
        if self.security_hub:
            stack = Stack.of(self)
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["securityhub:BatchImportFindings"],
                resource_arns=[stack.format_arn(service="securityhub", resource="product",
                                                resource_name=f"{stack.account}/default")])
