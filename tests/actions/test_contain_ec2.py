"""EC2 actions against moto: quarantine_instance, revoke_open_ingress, unshare_snapshot_or_image."""

from __future__ import annotations

import boto3
import pytest
from trailhound.containment.actions.ec2 import (
    QUARANTINE_TAG,
    QuarantineInstance,
    RevokeOpenIngress,
    UnshareSnapshotOrImage,
)
from trailhound.containment.errors import ProtectedPrincipalError, ResourceNotFoundError

KNOWN = "111122223333"
STRANGER = "999988887777"


@pytest.fixture
def ec2(moto):
    return boto3.client("ec2")


@pytest.fixture
def vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return vpc_id, subnet


@pytest.fixture
def web_sg(ec2, vpc):
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc[0])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh from anywhere"}, {"CidrIp": "10.0.0.0/8"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ])
    return sg


def group(ec2, sg):
    return ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]


def ingress(ec2, sg):
    """Ingress rules normalised for comparison."""
    out = set()
    for p in group(ec2, sg)["IpPermissions"]:
        for r in p.get("IpRanges", []):
            out.add((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"], r.get("Description")))
        for r in p.get("Ipv6Ranges", []):
            out.add((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIpv6"], r.get("Description")))
    return out


# -- quarantine_instance ----------------------------------------------------------------------
@pytest.fixture
def instance(ec2, vpc, web_sg):
    other = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc[0])["GroupId"]
    inst = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=vpc[1],
                             SecurityGroupIds=[web_sg, other])["Instances"][0]
    return inst["InstanceId"], sorted([web_sg, other])


def instance_view(ec2, instance_id):
    inst = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return {
        "groups": sorted(g["GroupId"] for g in inst["SecurityGroups"]),
        "state": inst["State"]["Name"],
        "tag": {t["Key"]: t["Value"] for t in inst.get("Tags", [])}.get(QUARANTINE_TAG),
    }


def test_quarantine_instance(run, ec2, vpc, instance, calls, assert_declared):
    instance_id, groups = instance
    before = instance_view(ec2, instance_id)
    assert before["groups"] == groups

    plan = run.plan("quarantine_instance", {"instance_id": instance_id})
    assert calls.mutating() == []
    assert any(c.startswith("snapshot EBS volume vol-") for c in plan["plan"]["changes"])
    assert any("never stopped or terminated" in n for n in plan["plan"]["notes"])

    calls.clear()
    first = run.apply("quarantine_instance", {"instance_id": instance_id})
    assert first["status"] == "applied"
    assert_declared(QuarantineInstance, calls)
    assert not any(op.endswith(("StopInstances", "TerminateInstances")) for op in calls.ops)
    # snapshots were taken before the groups changed
    first_snapshot = calls.ops.index("ec2:CreateSnapshot")
    assert first_snapshot < calls.ops.index("ec2:ModifyInstanceAttribute")

    iso = first["result"]["details"]["isolation_group"]
    after = instance_view(ec2, instance_id)
    assert after == {"groups": [iso], "state": "running", "tag": first["containment_id"]}
    iso_group = group(ec2, iso)
    assert iso_group["VpcId"] == vpc[0]
    assert iso_group["IpPermissions"] == [] and iso_group["IpPermissionsEgress"] == []
    snaps = ec2.describe_snapshots(SnapshotIds=first["result"]["details"]["snapshots"])["Snapshots"]
    assert len(snaps) == 1
    assert {t["Key"]: t["Value"] for t in snaps[0]["Tags"]}["trailhound:finding-id"] == "finding-1"

    again = run.apply("quarantine_instance", {"instance_id": instance_id})
    assert again["status"] == "already_contained"
    own = ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "tag:trailhound:instance-id", "Values": [instance_id]}])["Snapshots"]
    assert len(own) == 1  # no second round of snapshots
    isolation_groups = ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["trailhound-isolation"]}])["SecurityGroups"]
    assert len(isolation_groups) == 1

    calls.clear()
    back = run.rollback(first["containment_id"])
    assert back["status"] == "rolled_back"
    assert instance_view(ec2, instance_id) == before
    assert "evidence snapshots kept" in back["result"]["message"]
    assert_declared(QuarantineInstance, calls, rollback=True)


def test_quarantine_reuses_isolation_group_and_strips_rules(run, ec2, vpc, instance):
    instance_id, _ = instance
    iso = ec2.create_security_group(GroupName="trailhound-isolation", Description="x", VpcId=vpc[0])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=iso, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    out = run.apply("quarantine_instance", {"instance_id": instance_id})
    assert out["result"]["details"]["isolation_group"] == iso
    g = group(ec2, iso)
    assert g["IpPermissions"] == [] and g["IpPermissionsEgress"] == []


def test_quarantine_protected_and_missing(run, ec2, instance, calls):
    instance_id, groups = instance
    calls.clear()
    with pytest.raises(ProtectedPrincipalError):
        run.apply("quarantine_instance", {"instance_id": instance_id},
                  protected_patterns=[f"arn:aws:ec2:*:*:instance/{instance_id}"])
    assert calls.ops == []
    assert instance_view(ec2, instance_id)["groups"] == groups
    with pytest.raises(ResourceNotFoundError, match="EC2 instance i-0123456789abcdef0 does not exist"):
        run.plan("quarantine_instance", {"instance_id": "i-0123456789abcdef0"})


# -- revoke_open_ingress ----------------------------------------------------------------------
def test_revoke_open_ingress(run, ec2, web_sg, calls, assert_declared):
    before = ingress(ec2, web_sg)
    first = run.apply("revoke_open_ingress", {"group_id": web_sg})
    assert first["status"] == "applied"
    assert_declared(RevokeOpenIngress, calls)
    remaining = ingress(ec2, web_sg)
    assert remaining == {("tcp", 22, 22, "10.0.0.0/8", None), ("tcp", 443, 443, "10.0.0.0/8", None)}

    again = run.apply("revoke_open_ingress", {"group_id": web_sg})
    assert again["status"] == "already_contained"
    assert ingress(ec2, web_sg) == remaining

    calls.clear()
    assert run.rollback(first["containment_id"])["status"] == "rolled_back"
    assert ingress(ec2, web_sg) == before  # descriptions included
    assert_declared(RevokeOpenIngress, calls, rollback=True)


def test_revoke_open_ingress_protected_and_missing(run, ec2, web_sg, calls):
    calls.clear()
    with pytest.raises(ProtectedPrincipalError):
        run.apply("revoke_open_ingress", {"group_id": web_sg}, protected_patterns=["arn:aws:ec2:*:*:security-group/*"])
    assert calls.ops == []
    with pytest.raises(ResourceNotFoundError, match="security group sg-0123456789abcdef0 does not exist"):
        run.apply("revoke_open_ingress", {"group_id": "sg-0123456789abcdef0"})


# -- unshare_snapshot_or_image ----------------------------------------------------------------
@pytest.fixture
def snapshot(ec2):
    vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
    ec2.modify_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission", OperationType="add",
                                  GroupNames=["all"], UserIds=[KNOWN, STRANGER])
    return snap


def volume_permissions(ec2, snap):
    perms = ec2.describe_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission")
    return sorted(str(sorted(p.items())) for p in perms["CreateVolumePermissions"])


def test_unshare_snapshot(run, ec2, snapshot, calls, assert_declared):
    before = volume_permissions(ec2, snapshot)
    params = {"resource_id": snapshot, "known_accounts": KNOWN}
    plan = run.plan("unshare_snapshot_or_image", params)["plan"]
    assert len(plan["changes"]) == 2 and calls.mutating() == []

    first = run.apply("unshare_snapshot_or_image", params)
    assert first["status"] == "applied"
    assert volume_permissions(ec2, snapshot) == [str([("UserId", KNOWN)])]
    assert_declared(UnshareSnapshotOrImage, calls)

    assert run.apply("unshare_snapshot_or_image", params)["status"] == "already_contained"
    assert volume_permissions(ec2, snapshot) == [str([("UserId", KNOWN)])]

    calls.clear()
    run.rollback(first["containment_id"])
    assert volume_permissions(ec2, snapshot) == before
    assert_declared(UnshareSnapshotOrImage, calls, rollback=True)


def test_unshare_snapshot_known_accounts_from_env(run, ec2, snapshot, monkeypatch):
    monkeypatch.setenv("TRAILHOUND_KNOWN_ACCOUNTS", f"{KNOWN},{STRANGER}")
    out = run.apply("unshare_snapshot_or_image", {"resource_id": snapshot})
    assert out["result"]["changes"] == [f"removed public (everyone) from {snapshot}"]


def test_unshare_image(run, ec2, instance, calls, assert_declared):
    image = ec2.create_image(InstanceId=instance[0], Name="golden")["ImageId"]
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [
        {"Group": "all"}, {"UserId": KNOWN}, {"UserId": STRANGER}]})

    def perms():
        lp = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
        return sorted(str(sorted(p.items())) for p in lp)

    before = perms()
    calls.clear()
    first = run.apply("unshare_snapshot_or_image", {"resource_id": image, "known_accounts": KNOWN})
    assert perms() == [str([("UserId", KNOWN)])]
    assert_declared(UnshareSnapshotOrImage, calls)
    assert run.apply("unshare_snapshot_or_image", {"resource_id": image, "known_accounts": KNOWN})["status"] \
        == "already_contained"
    run.rollback(first["containment_id"])
    assert perms() == before


def test_unshare_protected_and_missing(run, snapshot, calls):
    calls.clear()
    with pytest.raises(ProtectedPrincipalError):
        run.apply("unshare_snapshot_or_image", {"resource_id": snapshot},
                  protected_patterns=[f"arn:aws:ec2:*::snapshot/{snapshot}"])
    assert calls.ops == []
    with pytest.raises(ResourceNotFoundError, match="EBS snapshot snap-0123456789abcdef0 does not exist"):
        run.apply("unshare_snapshot_or_image", {"resource_id": "snap-0123456789abcdef0"})
    with pytest.raises(ResourceNotFoundError, match="AMI ami-0123456789abcdef0 does not exist"):
        run.apply("unshare_snapshot_or_image", {"resource_id": "ami-0123456789abcdef0"})
