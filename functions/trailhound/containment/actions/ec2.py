"""EC2 containment: quarantine an instance, revoke open ingress, unshare snapshots and AMIs."""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from trailhound.containment.base import Action, ActionParams, CommaList
from trailhound.containment.errors import ContainmentError, ResourceNotFoundError
from trailhound.containment.models import ContainmentRecord, Plan, Result, ResultStatus
from trailhound.containment.registry import register

QUARANTINE_TAG = "trailhound:quarantine"
ISOLATION_TAG = "trailhound:isolation"
DEFAULT_ISOLATION_GROUP = "trailhound-isolation"
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
ENV_KNOWN_ACCOUNTS = "TRAILHOUND_KNOWN_ACCOUNTS"


def known_accounts(given: list[str], own_account: str) -> set[str]:
    """Accounts a resource may be shared with: ours, the parameter, env TRAILHOUND_KNOWN_ACCOUNTS."""
    env = [a.strip() for a in os.environ.get(ENV_KNOWN_ACCOUNTS, "").split(",") if a.strip()]
    return {own_account, *given, *env}


def _strip_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as the Authorize/Revoke APIs take it (drop empty lists and read-only fields)."""
    return {k: v for k, v in rule.items() if v not in ([], None)}


# ---------------------------------------------------------------------------------------------
class QuarantineParams(ActionParams):
    instance_id: str = Field(pattern=r"^i-[0-9a-f]{8,17}$", description="EC2 instance id, e.g. i-0abc1234def567890")
    isolation_group_name: str = Field(
        default=DEFAULT_ISOLATION_GROUP, pattern=r"^[A-Za-z0-9 ._:/()#,@+=&;{}!$*-]{1,255}$",
        description="name of the no-rules security group (created in the instance's VPC if missing)",
    )


@register
class QuarantineInstance(Action[QuarantineParams]):
    """Isolate an EC2 instance: snapshot every attached EBS volume, then swap its security groups
    for an isolation group with no inbound and no outbound rules, and tag it. The instance is
    never stopped or terminated (memory and disks are evidence).

    Example::

        trailhound contain quarantine_instance --param instance_id=i-0abc1234def567890 --apply
    """

    name = "quarantine_instance"
    Params = QuarantineParams
    permissions = (
        "ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "ec2:CreateSecurityGroup",
        "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:CreateSnapshot",
        "ec2:CreateTags", "ec2:ModifyInstanceAttribute", "ec2:ModifyNetworkInterfaceAttribute",
    )
    rollback_permissions = (
        "ec2:DescribeInstances", "ec2:ModifyInstanceAttribute", "ec2:ModifyNetworkInterfaceAttribute",
        "ec2:CreateTags", "ec2:DeleteTags",
    )

    def target_arns(self, params: QuarantineParams) -> list[str]:
        return [self.arn_template("ec2", f"instance/{params.instance_id}")]

    @property
    def ec2(self) -> Any:
        return self.aws.client("ec2")

    def _instance(self, instance_id: str) -> dict[str, Any]:
        with self.aws.call(self.name, "DescribeInstances", resource=f"EC2 instance {instance_id}"):
            reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        if not instances:
            raise ResourceNotFoundError(f"{self.name}: EC2 instance {instance_id} does not exist")
        inst = dict(instances[0])
        state = inst.get("State", {}).get("Name")
        if state in ("terminated", "shutting-down"):
            raise ContainmentError(f"{self.name}: EC2 instance {instance_id} is {state}: nothing to isolate")
        if not inst.get("VpcId"):
            raise ContainmentError(f"{self.name}: EC2 instance {instance_id} is not in a VPC")
        return inst

    @staticmethod
    def _enis(inst: dict[str, Any]) -> dict[str, list[str]]:
        """Security groups per network interface. With one interface the instance's own
        ``SecurityGroups`` are those of that interface (and what ModifyInstanceAttribute sets)."""
        enis = sorted(inst.get("NetworkInterfaces", []), key=lambda e: e.get("Attachment", {}).get("DeviceIndex", 0))
        if len(enis) == 1:
            return {str(enis[0]["NetworkInterfaceId"]): [str(g["GroupId"]) for g in inst.get("SecurityGroups", [])]}
        return {str(eni["NetworkInterfaceId"]): [str(g["GroupId"]) for g in eni.get("Groups", [])] for eni in enis}

    @staticmethod
    def _volumes(inst: dict[str, Any]) -> list[tuple[str, str]]:
        return [(str(m["Ebs"]["VolumeId"]), str(m.get("DeviceName", "")))
                for m in inst.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("VolumeId")]

    @staticmethod
    def _tag(inst: dict[str, Any]) -> str | None:
        for tag in inst.get("Tags", []) or []:
            if tag["Key"] == QUARANTINE_TAG:
                return str(tag["Value"])
        return None

    def _find_group(self, vpc_id: str, name: str) -> dict[str, Any] | None:
        groups = self.ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
        )["SecurityGroups"]
        return dict(groups[0]) if groups else None

    def _is_contained(self, inst: dict[str, Any], group: dict[str, Any] | None) -> bool:
        if group is None or self._tag(inst) is None:
            return False
        if group.get("IpPermissions") or group.get("IpPermissionsEgress"):
            return False
        return all(groups == [group["GroupId"]] for groups in self._enis(inst).values())

    def _plan(self, p: QuarantineParams) -> Plan:
        inst = self._instance(p.instance_id)
        group = self._find_group(inst["VpcId"], p.isolation_group_name)
        done = self._is_contained(inst, group)
        changes: list[str] = []
        if not done:
            volumes = self._volumes(inst)
            changes += [f"snapshot EBS volume {v} ({dev})" for v, dev in volumes] or ["no EBS volume to snapshot"]
            if group is None:
                changes.append(f"create security group {p.isolation_group_name} in {inst['VpcId']} "
                               "and remove its default outbound rule (no rules at all)")
            else:
                changes.append(f"reuse security group {group['GroupId']} ({p.isolation_group_name})"
                               + (", removing the rules it has" if group.get("IpPermissions")
                                  or group.get("IpPermissionsEgress") else ""))
            for eni, groups in self._enis(inst).items():
                changes.append(f"replace security groups of {eni}: {', '.join(groups) or '(none)'} "
                               f"-> {group['GroupId'] if group else p.isolation_group_name}")
            changes.append(f"tag {p.instance_id} with {QUARANTINE_TAG}")
        return Plan(
            action=self.name, targets=[self.resolve(self.target_arns(p)[0])], already_contained=done,
            changes=changes,
            notes=[
                "the instance keeps running: it is never stopped or terminated",
                "connections already tracked by the security groups may persist until they go idle; "
                "add a network ACL deny if they must end at once",
                "snapshots are kept as evidence after a rollback",
            ],
            current_state={"state": inst.get("State", {}).get("Name"), "vpc_id": inst["VpcId"],
                           "network_interfaces": self._enis(inst), "volumes": [v for v, _ in self._volumes(inst)]},
        )

    def _ensure_isolation_group(self, vpc_id: str, name: str) -> str:
        group = self._find_group(vpc_id, name)
        if group is None:
            try:
                group_id = str(self.ec2.create_security_group(
                    GroupName=name, VpcId=vpc_id,
                    Description="TrailHound quarantine: no inbound, no outbound",
                    TagSpecifications=[{"ResourceType": "security-group",
                                        "Tags": [{"Key": ISOLATION_TAG, "Value": "true"}]}],
                )["GroupId"])
            except ClientError as exc:  # created concurrently by another containment
                if exc.response.get("Error", {}).get("Code") != "InvalidGroup.Duplicate":
                    raise
                found = self._find_group(vpc_id, name)
                if found is None:
                    raise
                group_id = str(found["GroupId"])
            group = self._find_group(vpc_id, name) or {"GroupId": group_id}
        if group.get("IpPermissions"):
            self.ec2.revoke_security_group_ingress(
                GroupId=group["GroupId"], IpPermissions=[_strip_rule(r) for r in group["IpPermissions"]])
        if group.get("IpPermissionsEgress"):
            self.ec2.revoke_security_group_egress(
                GroupId=group["GroupId"], IpPermissions=[_strip_rule(r) for r in group["IpPermissionsEgress"]])
        return str(group["GroupId"])

    def _set_groups(self, instance_id: str, enis: dict[str, list[str]]) -> None:
        if len(enis) == 1:  # the instance-level call works only with one network interface
            self.ec2.modify_instance_attribute(InstanceId=instance_id, Groups=next(iter(enis.values())))
        else:
            for eni, groups in enis.items():
                self.ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=groups)

    def _apply(self, p: QuarantineParams, record: ContainmentRecord) -> Result:
        inst = self._instance(p.instance_id)
        vpc_id = str(inst["VpcId"])
        if self._is_contained(inst, self._find_group(vpc_id, p.isolation_group_name)):
            return Result(status=ResultStatus.ALREADY_CONTAINED, message=f"{p.instance_id} is already quarantined")
        enis = self._enis(inst)
        record.save_before_state(network_interfaces=enis, quarantine_tag=self._tag(inst), vpc_id=vpc_id)
        changes: list[str] = []
        snapshots: list[str] = []
        for volume_id, device in self._volumes(inst):  # evidence first, before anything changes
            tags = [{"Key": QUARANTINE_TAG, "Value": record.id}, {"Key": "trailhound:instance-id", "Value": p.instance_id}]
            if record.finding_id:
                tags.append({"Key": "trailhound:finding-id", "Value": record.finding_id[:256]})
            snap = self.ec2.create_snapshot(
                VolumeId=volume_id, Description=f"TrailHound evidence {p.instance_id} {device} {record.id}"[:255],
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
            )
            snapshots.append(str(snap["SnapshotId"]))
            changes.append(f"snapshot {snap['SnapshotId']} of {volume_id} ({device})")
        record.save_before_state(evidence_snapshots=snapshots)
        group_id = self._ensure_isolation_group(vpc_id, p.isolation_group_name)
        self._set_groups(p.instance_id, {eni: [group_id] for eni in enis})
        changes += [f"{eni}: {', '.join(groups) or '(none)'} -> {group_id}" for eni, groups in enis.items()]
        self.ec2.create_tags(Resources=[p.instance_id], Tags=[{"Key": QUARANTINE_TAG, "Value": record.id}])
        changes.append(f"tagged {p.instance_id} {QUARANTINE_TAG}={record.id}")
        return Result(status=ResultStatus.APPLIED, changes=changes,
                      details={"snapshots": snapshots, "isolation_group": group_id})

    def _rollback(self, p: QuarantineParams, record: ContainmentRecord) -> Result:
        enis = record.before_state.get("network_interfaces")
        if not enis:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        self._instance(p.instance_id)
        self._set_groups(p.instance_id, {k: list(v) for k, v in enis.items()})
        changes = [f"{eni}: restored {', '.join(groups)}" for eni, groups in enis.items()]
        previous = record.before_state.get("quarantine_tag")
        if previous is None:
            self.ec2.delete_tags(Resources=[p.instance_id], Tags=[{"Key": QUARANTINE_TAG}])
            changes.append(f"removed tag {QUARANTINE_TAG}")
        else:
            self.ec2.create_tags(Resources=[p.instance_id], Tags=[{"Key": QUARANTINE_TAG, "Value": previous}])
            changes.append(f"restored tag {QUARANTINE_TAG}={previous}")
        snaps = record.before_state.get("evidence_snapshots") or []
        return Result(status=ResultStatus.ROLLED_BACK, changes=changes,
                      message=("evidence snapshots kept: " + ", ".join(snaps)) if snaps else "")


# ---------------------------------------------------------------------------------------------
class GroupParams(ActionParams):
    group_id: str = Field(pattern=r"^sg-[0-9a-f]{8,17}$", description="security group id, e.g. sg-0abc1234def567890")


def open_ingress(permissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts of ingress rules open to the whole internet (0.0.0.0/0 or ::/0)."""
    out = []
    for perm in permissions:
        v4 = [r for r in perm.get("IpRanges", []) if r.get("CidrIp") == "0.0.0.0/0"]
        v6 = [r for r in perm.get("Ipv6Ranges", []) if r.get("CidrIpv6") == "::/0"]
        if not v4 and not v6:
            continue
        rule: dict[str, Any] = {"IpProtocol": perm["IpProtocol"]}
        for key in ("FromPort", "ToPort"):
            if key in perm:
                rule[key] = perm[key]
        if v4:
            rule["IpRanges"] = v4
        if v6:
            rule["Ipv6Ranges"] = v6
        out.append(rule)
    return out


def _describe_rule(rule: dict[str, Any]) -> str:
    proto = "all traffic" if rule["IpProtocol"] == "-1" else rule["IpProtocol"]
    ports = ""
    if "FromPort" in rule and rule["IpProtocol"] != "-1":
        ports = f" {rule['FromPort']}" if rule["FromPort"] == rule.get("ToPort") else f" {rule['FromPort']}-{rule.get('ToPort')}"
    cidrs = [r["CidrIp"] for r in rule.get("IpRanges", [])] + [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])]
    return f"{proto}{ports} from {', '.join(cidrs)}"


def _without_descriptions(rule: dict[str, Any]) -> dict[str, Any]:
    out = dict(rule)
    for key, field in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")):
        if key in out:
            out[key] = [{field: r[field]} for r in out[key]]
    return out


@register
class RevokeOpenIngress(Action[GroupParams]):
    """Remove a security group's inbound rules open to the internet (0.0.0.0/0 and ::/0),
    saving them so rollback can add them back. Narrower rules are left alone.

    Example::

        trailhound contain revoke_open_ingress --param group_id=sg-0abc1234def567890 --apply
    """

    name = "revoke_open_ingress"
    Params = GroupParams
    permissions = ("ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupIngress")
    rollback_permissions = ("ec2:AuthorizeSecurityGroupIngress",)

    def target_arns(self, params: GroupParams) -> list[str]:
        return [self.arn_template("ec2", f"security-group/{params.group_id}")]

    def _group(self, group_id: str) -> dict[str, Any]:
        with self.aws.call(self.name, "DescribeSecurityGroups", resource=f"security group {group_id}"):
            groups = self.aws.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        if not groups:
            raise ResourceNotFoundError(f"{self.name}: security group {group_id} does not exist")
        return dict(groups[0])

    def _plan(self, p: GroupParams) -> Plan:
        group = self._group(p.group_id)
        rules = open_ingress(group.get("IpPermissions", []))
        return Plan(
            action=self.name, targets=[self.resolve(self.target_arns(p)[0])], already_contained=not rules,
            changes=[f"revoke inbound {_describe_rule(r)} on {p.group_id}" for r in rules],
            notes=["rules open to other wide ranges (e.g. 0.0.0.0/1) or to other groups are not touched"],
            current_state={"open_ingress": rules},
        )

    def _apply(self, p: GroupParams, record: ContainmentRecord) -> Result:
        rules = open_ingress(self._group(p.group_id).get("IpPermissions", []))
        if not rules:
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"{p.group_id} has no inbound rule open to 0.0.0.0/0 or ::/0")
        record.save_before_state(revoked_rules=rules)
        self.aws.client("ec2").revoke_security_group_ingress(
            GroupId=p.group_id, IpPermissions=[_without_descriptions(r) for r in rules])
        return Result(status=ResultStatus.APPLIED,
                      changes=[f"revoked inbound {_describe_rule(r)} on {p.group_id}" for r in rules])

    def _rollback(self, p: GroupParams, record: ContainmentRecord) -> Result:
        rules = record.before_state.get("revoked_rules")
        if not rules:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        self._group(p.group_id)
        changes = []
        for rule in rules:  # one at a time: a rule already back must not block the others
            try:
                self.aws.client("ec2").authorize_security_group_ingress(GroupId=p.group_id, IpPermissions=[rule])
                changes.append(f"re-added inbound {_describe_rule(rule)} on {p.group_id}")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidPermission.Duplicate":
                    raise
                changes.append(f"inbound {_describe_rule(rule)} on {p.group_id} was already present")
        return Result(status=ResultStatus.ROLLED_BACK, changes=changes)


# ---------------------------------------------------------------------------------------------
class UnshareParams(ActionParams):
    resource_id: str = Field(
        pattern=r"^(snap|ami)-[0-9a-f]{8,17}$", description="EBS snapshot id (snap-...) or AMI id (ami-...)")
    known_accounts: CommaList = Field(
        default_factory=list,
        description="12-digit account ids it may stay shared with, comma-separated "
                    "(plus this account and env TRAILHOUND_KNOWN_ACCOUNTS)",
    )


@register
class UnshareSnapshotOrImage(Action[UnshareParams]):
    """Remove public ("all") and unknown-account sharing from an EBS snapshot (create-volume
    permission) or an AMI (launch permission). Known accounts and organization shares stay.

    Example::

        trailhound contain unshare_snapshot_or_image --param resource_id=snap-0abc1234def567890 \\
            --param known_accounts=111122223333 --apply
    """

    name = "unshare_snapshot_or_image"
    Params = UnshareParams
    permissions = (
        "ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute",
        "ec2:DescribeImages", "ec2:DescribeImageAttribute", "ec2:ModifyImageAttribute",
    )
    rollback_permissions = ("ec2:ModifySnapshotAttribute", "ec2:ModifyImageAttribute")

    def target_arns(self, params: UnshareParams) -> list[str]:
        kind = "snapshot" if params.resource_id.startswith("snap-") else "image"
        return [self.arn_template("ec2", f"{kind}/{params.resource_id}", account=False)]

    @property
    def ec2(self) -> Any:
        return self.aws.client("ec2")

    def _permissions(self, p: UnshareParams) -> list[dict[str, str]]:
        if p.resource_id.startswith("snap-"):
            with self.aws.call(self.name, "DescribeSnapshotAttribute", resource=f"EBS snapshot {p.resource_id}"):
                resp = self.ec2.describe_snapshot_attribute(SnapshotId=p.resource_id, Attribute="createVolumePermission")
            return [dict(x) for x in resp.get("CreateVolumePermissions", [])]
        with self.aws.call(self.name, "DescribeImages", resource=f"AMI {p.resource_id}"):
            if not self.ec2.describe_images(ImageIds=[p.resource_id])["Images"]:
                raise ResourceNotFoundError(f"{self.name}: AMI {p.resource_id} does not exist")
            resp = self.ec2.describe_image_attribute(ImageId=p.resource_id, Attribute="launchPermission")
        return [dict(x) for x in resp.get("LaunchPermissions", [])]

    def _to_remove(self, p: UnshareParams, perms: list[dict[str, str]]) -> list[dict[str, str]]:
        known = known_accounts(p.known_accounts, self.aws.account_id())
        out = []
        for perm in perms:
            if perm.get("Group") == "all" or ("UserId" in perm and perm["UserId"] not in known):
                out.append({k: v for k, v in perm.items() if k in ("Group", "UserId")})
        return out

    def _modify(self, resource_id: str, perms: list[dict[str, str]], operation: str) -> None:
        if resource_id.startswith("snap-"):
            groups = [x["Group"] for x in perms if "Group" in x]
            users = [x["UserId"] for x in perms if "UserId" in x]
            self.ec2.modify_snapshot_attribute(
                SnapshotId=resource_id, Attribute="createVolumePermission", OperationType=operation,
                **({"GroupNames": groups} if groups else {}), **({"UserIds": users} if users else {}))
        else:
            key = "Add" if operation == "add" else "Remove"
            self.ec2.modify_image_attribute(ImageId=resource_id, LaunchPermission={key: perms})

    @staticmethod
    def _describe(perm: dict[str, str]) -> str:
        return "public (everyone)" if perm.get("Group") == "all" else f"account {perm.get('UserId')}"

    def _plan(self, p: UnshareParams) -> Plan:
        perms = self._permissions(p)
        remove = self._to_remove(p, perms)
        what = "create-volume" if p.resource_id.startswith("snap-") else "launch"
        return Plan(
            action=self.name, targets=self.target_arns(p), already_contained=not remove,
            changes=[f"remove {what} permission for {self._describe(x)} from {p.resource_id}" for x in remove],
            notes=["copies or volumes other accounts already made cannot be recalled",
                   "organization and OU shares are kept"],
            current_state={"permissions": perms},
        )

    def _apply(self, p: UnshareParams, record: ContainmentRecord) -> Result:
        remove = self._to_remove(p, self._permissions(p))
        if not remove:
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"{p.resource_id} is not shared publicly or with unknown accounts")
        record.save_before_state(removed_permissions=remove)
        self._modify(p.resource_id, remove, "remove")
        return Result(status=ResultStatus.APPLIED,
                      changes=[f"removed {self._describe(x)} from {p.resource_id}" for x in remove])

    def _rollback(self, p: UnshareParams, record: ContainmentRecord) -> Result:
        removed = record.before_state.get("removed_permissions")
        if not removed:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        self._permissions(p)
        self._modify(p.resource_id, removed, "add")
        return Result(status=ResultStatus.ROLLED_BACK,
                      changes=[f"re-shared {p.resource_id} with {self._describe(x)}" for x in removed])
