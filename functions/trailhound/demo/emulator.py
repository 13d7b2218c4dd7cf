"""Seed an in-process AWS emulator (moto) with the scenario's world, as the attack left it.

The demo's containment then acts on these objects with the real boto3 calls: the leaked key
and the backdoor key exist and are active, the trail is stopped, the instance runs with its
role and security group, the bucket holds its exports.
"""

from __future__ import annotations

import json
from typing import Any

from trailhound.simulate.scenarios import Resources

REGION = "us-east-1"
ACCOUNT = "111122223333"  # MOTO_ACCOUNT_ID, the account the simulated logs belong to
_TRUST_EC2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "ec2.amazonaws.com"}}]}


def seed(session: Any, res: Resources | None = None) -> Resources:
    """Create the scenario's resources; return them with the emulator's ids filled in."""
    res = res or Resources(trail_bucket=f"audit-logs-{ACCOUNT}", bucket=f"customer-exports-{ACCOUNT}")
    iam = session.client("iam", region_name=REGION)
    iam.create_user(UserName=res.user_name)
    res.access_key_id = iam.create_access_key(UserName=res.user_name)["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName=res.other_user)
    res.backdoor_key_id = iam.create_access_key(UserName=res.other_user)["AccessKey"]["AccessKeyId"]

    s3 = session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=res.trail_bucket)
    s3.create_bucket(Bucket=res.bucket)
    for i in range(3):
        s3.put_object(Bucket=res.bucket, Key=f"exports/2026/11/customers-{i:03d}.csv", Body=b"id,name\n")
    ct = session.client("cloudtrail", region_name=REGION)
    ct.create_trail(Name=res.trail_name, S3BucketName=res.trail_bucket, IsMultiRegionTrail=True)
    ct.put_event_selectors(TrailName=res.trail_name, EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}])
    ct.start_logging(Name=res.trail_name)
    ct.stop_logging(Name=res.trail_name)  # what the attacker did

    iam.create_role(RoleName=res.role_name, AssumeRolePolicyDocument=json.dumps(_TRUST_EC2))
    iam.create_instance_profile(InstanceProfileName=res.role_name)
    iam.add_role_to_instance_profile(InstanceProfileName=res.role_name, RoleName=res.role_name)
    ec2 = session.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="web-app", Description="web app", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    instance = ec2.run_instances(
        ImageId="ami-0c02fb55956c7d316", MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
        SecurityGroupIds=[sg], IamInstanceProfile={"Name": res.role_name},
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web-app-1"}]}],
    )["Instances"][0]
    res.instance_id = instance["InstanceId"]
    return res


def snapshot_state(session: Any, res: Resources) -> dict[str, Any]:
    """What the containment changed, read back from the emulator (for the report)."""
    iam = session.client("iam", region_name=REGION)
    keys = {}
    for user in (res.user_name, res.other_user):
        for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            keys[k["AccessKeyId"]] = {"user": user, "status": k["Status"]}
    ct = session.client("cloudtrail", region_name=REGION)
    trail = ct.get_trail_status(Name=res.trail_name)
    ec2 = session.client("ec2", region_name=REGION)
    inst = ec2.describe_instances(InstanceIds=[res.instance_id])["Reservations"][0]["Instances"][0]
    role_policies = iam.list_role_policies(RoleName=res.role_name)["PolicyNames"]
    return {
        "access_keys": keys,
        "trail_logging": bool(trail.get("IsLogging")),
        "instance": {"state": inst["State"]["Name"],
                     "security_groups": [g["GroupName"] for g in inst.get("SecurityGroups", [])],
                     "tags": {t["Key"]: t["Value"] for t in inst.get("Tags", [])}},
        "role_inline_policies": role_policies,
        "snapshots": len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]),
    }
