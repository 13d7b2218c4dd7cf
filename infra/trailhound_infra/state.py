"""DynamoDB tables: scheduler state (watermarks and the dedup ledger), containment records,
investigations, and the Powertools idempotency table of the contain Lambda.

All on-demand, encrypted with one customer-managed key, point-in-time recovery on, TTL on.
Key schemas, as ``trailhound.scheduler.state``, ``trailhound.containment.records`` and
``trailhound.investigation.records`` read them (see docs/deploy.md):

========================  ==========================  ==================
table                     keys                        TTL attribute
========================  ==========================  ==================
state                     ``pk`` (S), ``sk`` (S)      ``expires_at``
containments              ``id`` (S)                  ``expires_at``
investigations            ``investigation_id`` (S)    ``expires_at``
idempotency (Powertools)  ``id`` (S)                  ``expiration``
========================  ==========================  ==================
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

STATE_TTL = "expires_at"
IDEMPOTENCY_TTL = "expiration"


class State(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy,
                 deletion_protection: bool) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=removal_policy,
                           pending_window=Duration.days(7),
                           description="TrailHound: encrypts the state, containment and investigation tables")

        def table(name: str, *, sort_key: bool, ttl: str, description: str, key: str = "id") -> dynamodb.Table:
            t = dynamodb.Table(
                self, name,
                partition_key=dynamodb.Attribute(name="pk" if sort_key else key, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING) if sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=self.key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True),
                time_to_live_attribute=ttl,
                deletion_protection=deletion_protection,
                removal_policy=removal_policy,
            )
            t.node.add_metadata("description", description)
            return t

        self.state = table("StateTable", sort_key=True, ttl=STATE_TTL,
                           description="scheduler watermarks and the (detection, key) ledger")
        self.containments = table("ContainmentTable", sort_key=False, ttl=STATE_TTL,
                                  description="containment records: action, parameters, before-state, result")
        self.investigations = table("InvestigationTable", sort_key=False, ttl=STATE_TTL, key="investigation_id",
                                    description="investigation records and pending approval task tokens")
        self.idempotency = table("IdempotencyTable", sort_key=False, ttl=IDEMPOTENCY_TTL,
                                 description="Powertools idempotency records of the contain Lambda")

    def grant_state(self, grantee: iam.IGrantable) -> None:
        self.state.grant_read_write_data(grantee)
