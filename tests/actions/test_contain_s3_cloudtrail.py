"""block_public_bucket and restore_cloudtrail_logging against moto."""

from __future__ import annotations

import json

import boto3
import pytest
from trailhound.containment.actions.cloudtrail import MANAGEMENT_SELECTOR, RestoreCloudTrailLogging
from trailhound.containment.actions.s3 import BLOCK_ALL, BlockPublicBucket
from trailhound.containment.errors import ProtectedPrincipalError, ResourceNotFoundError

PUBLIC_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::leaky-data/*"}]})


@pytest.fixture
def s3(moto):
    client = boto3.client("s3")
    client.create_bucket(Bucket="leaky-data")
    client.put_public_access_block(Bucket="leaky-data", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    client.put_bucket_policy(Bucket="leaky-data", Policy=PUBLIC_POLICY)
    return client


def block_of(s3, bucket):
    try:
        return s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        return None


def test_block_public_bucket(run, s3, calls, assert_declared, records):
    before = block_of(s3, "leaky-data")
    first = run.apply("block_public_bucket", {"bucket": "leaky-data"})
    assert first["status"] == "applied"
    assert block_of(s3, "leaky-data") == BLOCK_ALL
    assert s3.get_bucket_policy(Bucket="leaky-data")["Policy"] == PUBLIC_POLICY  # kept, as evidence
    saved = records.get(first["containment_id"]).before_state
    assert saved == {"public_access_block": before, "policy": PUBLIC_POLICY}
    assert_declared(BlockPublicBucket, calls)

    assert run.apply("block_public_bucket", {"bucket": "leaky-data"})["status"] == "already_contained"
    assert block_of(s3, "leaky-data") == BLOCK_ALL

    calls.clear()
    run.rollback(first["containment_id"])
    assert block_of(s3, "leaky-data") == before
    assert_declared(BlockPublicBucket, calls, rollback=True)


def test_block_public_bucket_without_previous_block(run, s3):
    s3.create_bucket(Bucket="open-bucket")
    s3.delete_public_access_block(Bucket="open-bucket")
    assert block_of(s3, "open-bucket") is None
    first = run.apply("block_public_bucket", {"bucket": "open-bucket"})
    assert block_of(s3, "open-bucket") == BLOCK_ALL
    run.rollback(first["containment_id"])
    assert block_of(s3, "open-bucket") is None


def test_block_public_bucket_protected_and_missing(run, s3, calls):
    calls.clear()
    with pytest.raises(ProtectedPrincipalError):
        run.apply("block_public_bucket", {"bucket": "leaky-data"}, protected_patterns=["arn:aws:s3:::leaky-*"])
    assert calls.ops == []
    with pytest.raises(ResourceNotFoundError, match="S3 bucket 'no-such-bucket' does not exist"):
        run.apply("block_public_bucket", {"bucket": "no-such-bucket"})


# -- restore_cloudtrail_logging ---------------------------------------------------------------
ATTACKER_SELECTORS = [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False,
                       "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::logs/"]}],
                       "ExcludeManagementEventSources": []}]


@pytest.fixture
def trail(moto):
    boto3.client("s3").create_bucket(Bucket="trail-logs")
    ct = boto3.client("cloudtrail")
    ct.create_trail(Name="management-events", S3BucketName="trail-logs")
    ct.start_logging(Name="management-events")
    # the attacker narrows the selectors and stops logging
    ct.put_event_selectors(TrailName="management-events", EventSelectors=ATTACKER_SELECTORS)
    ct.stop_logging(Name="management-events")
    return ct


def trail_state(ct):
    sel = ct.get_event_selectors(TrailName="management-events")
    return {"logging": ct.get_trail_status(Name="management-events")["IsLogging"],
            "selectors": sel.get("EventSelectors", []), "advanced": sel.get("AdvancedEventSelectors", [])}


def test_restore_cloudtrail_logging(run, trail, calls, assert_declared):
    before = trail_state(trail)
    assert before["logging"] is False
    plan = run.plan("restore_cloudtrail_logging", {"trail": "management-events"})["plan"]
    assert plan["changes"][0] == "start logging on trail management-events"
    assert calls.mutating() == []

    first = run.apply("restore_cloudtrail_logging", {"trail": "management-events"})
    assert first["status"] == "applied"
    after = trail_state(trail)
    assert after["logging"] is True
    assert after["selectors"] == [*ATTACKER_SELECTORS, MANAGEMENT_SELECTOR]
    assert_declared(RestoreCloudTrailLogging, calls)

    again = run.apply("restore_cloudtrail_logging", {"trail": "management-events"})
    assert again["status"] == "already_contained"
    assert trail_state(trail) == after

    calls.clear()
    run.rollback(first["containment_id"])
    assert trail_state(trail) == before
    assert_declared(RestoreCloudTrailLogging, calls, rollback=True)
    assert "cloudtrail:StopLogging" not in RestoreCloudTrailLogging.permissions  # only people may stop it


def test_restore_cloudtrail_logging_explicit_selectors(run, trail):
    wanted = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
               "ExcludeManagementEventSources": []}]
    out = run.apply("restore_cloudtrail_logging",
                    {"trail": "management-events", "event_selectors": json.dumps(wanted)})
    assert out["status"] == "applied"
    assert trail_state(trail)["selectors"] == wanted


def test_restore_cloudtrail_logging_protected_and_missing(run, trail, calls):
    calls.clear()
    with pytest.raises(ProtectedPrincipalError):
        run.apply("restore_cloudtrail_logging", {"trail": "management-events"},
                  protected_patterns=["arn:aws:cloudtrail:*:*:trail/management-*"])
    assert calls.ops == []
    with pytest.raises(ResourceNotFoundError, match="CloudTrail trail 'deleted-trail' does not exist"):
        run.apply("restore_cloudtrail_logging", {"trail": "deleted-trail"})
