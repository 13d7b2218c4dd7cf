"""Cross-cutting rules as Aspects: cdk-nag's AwsSolutions pack, log retention, encryption.

``apply_aspects(scope, settings)`` adds all three; the CDK app and the tests call the same one.
"""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, Aspects, IAspect, Tokenization
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

# The retention values CloudWatch Logs accepts, in days.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)


def retention_days(days: int) -> int:
    """The smallest CloudWatch Logs retention that keeps at least ``days``."""
    return next((v for v in RETENTION_DAYS if v >= days), RETENTION_DAYS[-1])


@jsii.implements(IAspect)
class LogRetention:
    """Every log group keeps context ``logRetentionDays`` (rounded up to a value CloudWatch
    accepts): nothing logs, and bills, forever by accident, and every group ages out alike."""

    def __init__(self, days: int) -> None:
        self.days = retention_days(days)

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup):
            node.retention_in_days = self.days


@jsii.implements(IAspect)
class EncryptionAtRest:
    """Fails the synth (error annotation) for a data store created without encryption at rest."""

    def visit(self, node: IConstruct) -> None:
        problem: str | None = None
        if isinstance(node, s3.CfnBucket) and node.bucket_encryption is None:
            problem = "S3 bucket without default encryption"
        elif isinstance(node, sqs.CfnQueue) and node.kms_master_key_id is None and node.sqs_managed_sse_enabled is False:
            problem = "SQS queue with server-side encryption turned off"
        elif isinstance(node, sns.CfnTopic) and node.kms_master_key_id is None:
            problem = "SNS topic without a KMS key"
        elif isinstance(node, dynamodb.CfnTable) and not _enabled(node.sse_specification):
            problem = "DynamoDB table without a customer-managed KMS key"
        elif isinstance(node, sagemaker.CfnNotebookInstance) and node.kms_key_id is None:
            problem = "notebook instance volume without a KMS key"
        if problem:
            Annotations.of(node).add_error(f"TrailHound encryption rule: {problem}")


def _enabled(spec: object) -> bool:
    if spec is None or Tokenization.is_resolvable(spec):
        return spec is not None
    return bool(getattr(spec, "sse_enabled", False)) and getattr(spec, "sse_type", None) == "KMS"


def apply_aspects(scope: IConstruct, *, log_retention_days: int, nag: bool = True) -> None:
    Aspects.of(scope).add(LogRetention(log_retention_days))
    Aspects.of(scope).add(EncryptionAtRest())
    if nag:
        Aspects.of(scope).add(AwsSolutionsChecks(verbose=True))
