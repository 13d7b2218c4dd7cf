"""S3 containment: block public access on a bucket."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from trailhound.containment.base import Action, ActionParams
from trailhound.containment.errors import ResourceNotFoundError
from trailhound.containment.models import ContainmentRecord, Plan, Result, ResultStatus
from trailhound.containment.registry import register

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


class BucketParams(ActionParams):
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="S3 bucket name, e.g. my-data")


@register
class BlockPublicBucket(Action[BucketParams]):
    """Turn on all four S3 Block Public Access settings for one bucket, saving the previous
    settings and the bucket policy. The policy is left in place (RestrictPublicBuckets makes its
    public grants ineffective) and kept in the record as evidence.

    Example::

        trailhound contain block_public_bucket --param bucket=my-data --apply
    """

    name = "block_public_bucket"
    Params = BucketParams
    permissions = ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketPolicy")
    # DeletePublicAccessBlock is authorised by s3:PutBucketPublicAccessBlock.
    rollback_permissions = ("s3:PutBucketPublicAccessBlock", "s3:GetBucketPolicy")

    def target_arns(self, params: BucketParams) -> list[str]:
        return [f"arn:{self.aws.partition}:s3:::{params.bucket}"]

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def _state(self, bucket: str) -> dict[str, Any]:
        try:
            block: dict[str, Any] | None = dict(
                self.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchBucket":
                raise ResourceNotFoundError(f"{self.name}: S3 bucket {bucket!r} does not exist ({code})") from exc
            if code != "NoSuchPublicAccessBlockConfiguration":
                raise
            block = None
        try:
            policy: str | None = str(self.s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
                raise
            policy = None
        return {"public_access_block": block, "policy": policy}

    def _plan(self, p: BucketParams) -> Plan:
        state = self._state(p.bucket)
        done = state["public_access_block"] == BLOCK_ALL
        changes = []
        if not done:
            off = [k for k in BLOCK_ALL if not (state["public_access_block"] or {}).get(k)]
            changes.append(f"put public access block on {p.bucket}: turn on {', '.join(off)}")
        return Plan(
            action=self.name, targets=self.target_arns(p), already_contained=done, changes=changes,
            notes=["the bucket policy and ACLs are not changed; public grants in them stop working",
                   "account-level Block Public Access is not changed",
                   "rollback restores the previous block settings; the saved policy is only compared"],
            current_state=state,
        )

    def _apply(self, p: BucketParams, record: ContainmentRecord) -> Result:
        state = self._state(p.bucket)
        if state["public_access_block"] == BLOCK_ALL:
            return Result(status=ResultStatus.ALREADY_CONTAINED, message=f"{p.bucket} already blocks all public access")
        record.save_before_state(**state)
        self.s3.put_public_access_block(Bucket=p.bucket, PublicAccessBlockConfiguration=dict(BLOCK_ALL))
        return Result(status=ResultStatus.APPLIED, changes=[f"blocked all public access on {p.bucket}"])

    def _rollback(self, p: BucketParams, record: ContainmentRecord) -> Result:
        if "public_access_block" not in record.before_state:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        before = record.before_state["public_access_block"]
        current = self._state(p.bucket)
        if before is None:
            self.s3.delete_public_access_block(Bucket=p.bucket)
            changes = [f"removed the bucket-level public access block of {p.bucket} (there was none)"]
        else:
            self.s3.put_public_access_block(Bucket=p.bucket, PublicAccessBlockConfiguration=before)
            changes = [f"restored the previous public access block of {p.bucket}"]
        message = ""
        if current["policy"] != record.before_state.get("policy"):
            message = "the bucket policy changed since containment; it was left as it is now"
        return Result(status=ResultStatus.ROLLED_BACK, changes=changes, message=message)
