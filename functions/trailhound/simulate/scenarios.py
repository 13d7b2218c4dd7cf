"""Named attack scenarios. Each writes its records and declares the resources it touches,
so the demo can seed an AWS emulator with them (user, key, instance, bucket, trail)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trailhound.errors import UserInputError
from trailhound.simulate.benign import benign_records
from trailhound.simulate.events import (
    ACCOUNT,
    CLI_UA,
    SDK_UA,
    Actor,
    Recorder,
    iso,
    rand_id,
    role_session,
)
from trailhound.simulate.writer import write_delivery_files

ATTACKER_IP = "198.51.100.77"
EXFIL_IP = "198.51.100.201"
FOREIGN_ACCOUNT = "444455556666"


@dataclass
class Resources:
    """Identifiers of the resources a scenario acts on; the demo seeds an emulator with them
    and passes the emulator's ids back in, so containment acts on real (emulated) objects."""

    user_name: str = "svc-reporting"
    access_key_id: str = ""
    other_user: str = "backup-operator"
    backdoor_key_id: str = ""  # the key the attacker creates for other_user
    trail_name: str = "org-audit-trail"
    trail_bucket: str = "audit-logs-111122223333"
    instance_id: str = "i-0c9d8e7f6a5b41230"
    instance_ip: str = "54.210.33.18"
    role_name: str = "web-app-role"
    bucket: str = "customer-exports-111122223333"
    exfil_bucket: str = "drop-box-7781"

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    techniques: tuple[str, ...]
    build: Callable[[Recorder, dt.datetime, Resources, random.Random], None]


def _compromised_iam_user(rec: Recorder, t0: dt.datetime, res: Resources, rng: random.Random) -> None:
    victim = Actor("IAMUser", res.user_name, rand_id(rng, "AIDA", 17), res.access_key_id or rand_id(rng, "AKIA"))
    ua = CLI_UA.format(cmd="sts.get-caller-identity")

    def at(minutes: float) -> dt.datetime:
        return t0 + dt.timedelta(seconds=minutes * 60)

    # The owner's normal use, from the office, before the key leaks.
    for i in range(6):
        rec.call(victim, at(-50 + i * 7), "s3.amazonaws.com", "ListBuckets", ip="192.0.2.60", ua=SDK_UA)
    rec.call(victim, at(0), "sts.amazonaws.com", "GetCallerIdentity", ip=ATTACKER_IP, ua=ua)
    probes = [
        ("iam.amazonaws.com", "ListUsers", "AccessDenied"),
        ("iam.amazonaws.com", "ListRoles", "AccessDenied"),
        ("ec2.amazonaws.com", "DescribeInstances", "Client.UnauthorizedOperation"),
        ("secretsmanager.amazonaws.com", "ListSecrets", "AccessDenied"),
        ("lambda.amazonaws.com", "ListFunctions20150331", "AccessDenied"),
        ("kms.amazonaws.com", "ListKeys", "AccessDenied"),
        ("rds.amazonaws.com", "DescribeDBInstances", "AccessDenied"),
        ("dynamodb.amazonaws.com", "ListTables", "AccessDenied"),
        ("ssm.amazonaws.com", "DescribeParameters", "AccessDeniedException"),
        ("organizations.amazonaws.com", "DescribeOrganization", "AccessDeniedException"),
        ("guardduty.amazonaws.com", "ListDetectors", "AccessDeniedException"),
        ("ec2.amazonaws.com", "DescribeSnapshots", "Client.UnauthorizedOperation"),
    ]
    for i in range(26):
        src, name, code = probes[i % len(probes)]
        region = "us-east-1" if i % 3 else "eu-west-1"
        rec.call(victim, at(1 + i * 0.2), src, name, region=region, ip=ATTACKER_IP,
                 ua=CLI_UA.format(cmd=name.lower()), error=code)
    rec.call(victim, at(7), "iam.amazonaws.com", "GetUser", ip=ATTACKER_IP, ua=ua,
             req={"userName": res.user_name})
    rec.call(victim, at(8), "iam.amazonaws.com", "ListAccessKeys", ip=ATTACKER_IP, ua=ua,
             req={"userName": res.other_user})
    new_key = res.backdoor_key_id or rand_id(rng, "AKIA")
    rec.call(victim, at(9), "iam.amazonaws.com", "CreateAccessKey", ip=ATTACKER_IP, ua=ua,
             req={"userName": res.other_user},
             resp={"accessKey": {"accessKeyId": new_key, "createDate": "Nov 27, 2026 9:09:00 AM",
                                 "status": "Active", "userName": res.other_user}})
    rec.call(victim, at(12), "cloudtrail.amazonaws.com", "StopLogging", ip=ATTACKER_IP, ua=ua,
             req={"name": res.trail_name})


def _compromised_ec2_instance(rec: Recorder, t0: dt.datetime, res: Resources, rng: random.Random) -> None:
    session = role_session(rng, res.role_name, res.instance_id, ec2=True)
    agent_ua = "aws-sdk-go/1.44.329 (go1.20.12; linux; amd64) amazon-ssm-agent/3.3.484.0"

    def at(minutes: float) -> dt.datetime:
        return t0 + dt.timedelta(seconds=minutes * 60)

    # The instance's own, ordinary use of its role, from its own address.
    for i in range(8):
        rec.call(session, at(-60 + i * 8), "ssm.amazonaws.com", "UpdateInstanceInformation", ip=res.instance_ip,
                 ua=agent_ua, req={"instanceId": res.instance_id, "agentVersion": "3.3.484.0"}, read_only=False)
        rec.call(session, at(-58 + i * 8), "s3.amazonaws.com", "GetObject", ip=res.instance_ip, ua=SDK_UA,
                 req={"bucketName": res.bucket, "key": f"config/app-{i}.json", "Host": f"{res.bucket}.s3.amazonaws.com"},
                 resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{res.bucket}/config/app-{i}.json"},
                            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{res.bucket}"}],
                 category="Data", management=False)
    # The stolen credentials, used from elsewhere.
    rec.call(session, at(0), "sts.amazonaws.com", "GetCallerIdentity", ip=EXFIL_IP, ua=CLI_UA.format(cmd="sts"))
    rec.call(session, at(1), "s3.amazonaws.com", "ListBuckets", ip=EXFIL_IP, ua=CLI_UA.format(cmd="s3.ls"),
             req={"Host": "s3.amazonaws.com"})
    for i, api in enumerate(["DescribeInstances", "DescribeVpcs", "DescribeSecurityGroups", "DescribeSnapshots",
                             "DescribeVolumes", "DescribeImages", "DescribeSubnets", "DescribeKeyPairs"]):
        rec.call(session, at(1.5 + i * 0.1), "ec2.amazonaws.com", api, ip=EXFIL_IP, ua=CLI_UA.format(cmd="ec2"))
    for i in range(12):
        key = f"exports/2026/11/customers-{i:03d}.csv"
        rec.call(session, at(3 + i * 0.2), "s3.amazonaws.com", "GetObject", ip=EXFIL_IP, ua=CLI_UA.format(cmd="s3.cp"),
                 req={"bucketName": res.bucket, "key": key, "Host": f"{res.bucket}.s3.amazonaws.com"},
                 resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{res.bucket}/{key}"},
                            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{res.bucket}"}],
                 category="Data", management=False)
        rec.call(session, at(3.1 + i * 0.2), "s3.amazonaws.com", "PutObject", ip=EXFIL_IP,
                 ua=CLI_UA.format(cmd="s3.cp"),
                 req={"bucketName": res.exfil_bucket, "key": f"c/{i:03d}.csv",
                      "Host": f"{res.exfil_bucket}.s3.amazonaws.com"},
                 resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{res.exfil_bucket}/c/{i:03d}.csv"},
                            {"accountId": FOREIGN_ACCOUNT, "type": "AWS::S3::Bucket",
                             "ARN": f"arn:aws:s3:::{res.exfil_bucket}"}],
                 category="Data", management=False, read_only=False)


def _fixture_scenario(technique: str) -> Callable[[Recorder, dt.datetime, Resources, random.Random], None]:
    """Replay the positive fixtures of the detections that cover ``technique``, re-timed."""

    def build(rec: Recorder, t0: dt.datetime, res: Resources, rng: random.Random) -> None:
        from trailhound.detections.model import fixtures_dir, load_detections

        for det in load_detections():
            if technique not in det.header.techniques:
                continue
            for path in sorted((fixtures_dir() / det.id).glob("positive*.json")):
                records = json.loads(path.read_text())["Records"]
                first = min(dt.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) for r in records)
                for r in records:
                    r = json.loads(json.dumps(r))
                    t = dt.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
                    r["eventTime"] = iso(t0 + (t - first))
                    r["eventID"] = rec.uuid()
                    r["requestID"] = rec.uuid()
                    rec.records.append(r)
            return

    return build


def _technique_scenarios() -> dict[str, Scenario]:
    path = Path(__file__).resolve().parent.parent / "detections" / "techniques.json"
    if not path.exists():
        return {}
    out = {}
    for t in json.loads(path.read_text()):
        tid = t["id"] if isinstance(t, dict) else t
        name = tid.removeprefix("aws.")
        title = t.get("name", tid) if isinstance(t, dict) else tid
        out[name] = Scenario(name, f"{title} (replays the detection pack's positive fixtures)", (tid,),
                             _fixture_scenario(tid))
    return out


SCENARIOS: dict[str, Scenario] = {
    "compromised-iam-user": Scenario(
        "compromised-iam-user",
        "A leaked IAM user access key probes its permissions from an unknown address (a burst of "
        "AccessDenied), creates a key for another user, and stops the trail.",
        ("aws.persistence.iam-backdoor-user", "aws.defense-evasion.cloudtrail-stop"),
        _compromised_iam_user,
    ),
    "compromised-ec2-instance": Scenario(
        "compromised-ec2-instance",
        "An instance role's credentials, stolen from the instance metadata service, are used from "
        "outside the instance to enumerate, read customer exports and copy them to a foreign bucket.",
        ("aws.credential-access.ec2-steal-instance-credentials", "aws.discovery.ec2-enumerate-from-instance"),
        _compromised_ec2_instance,
    ),
}


def all_scenarios() -> dict[str, Scenario]:
    return {**SCENARIOS, **{k: v for k, v in _technique_scenarios().items() if k not in SCENARIOS}}


@dataclass
class SimulationResult:
    files: list[Path]
    records: int
    start: dt.datetime
    end: dt.datetime
    scenarios: list[str]
    resources: Resources
    attack_event_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"files": len(self.files), "records": self.records, "start": self.start, "end": self.end,
                "scenarios": self.scenarios, "resources": self.resources.to_dict()}


def simulate(names: list[str], out: Path, *, seed: int = 7, benign: int = 500, start: dt.datetime | None = None,
             resources: Resources | None = None, spacing: dt.timedelta = dt.timedelta(minutes=30)) -> SimulationResult:
    """Write delivery files for ``names`` (run ``spacing`` apart) with ``benign`` background records."""
    catalogue = all_scenarios()
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise UserInputError(f"unknown scenario {unknown[0]!r}; valid: {', '.join(sorted(catalogue))}")
    if not names:
        raise UserInputError("name at least one scenario (see `trailhound simulate --list`)")
    rng = random.Random(seed)
    res = resources or Resources()
    start = (start or dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)).astimezone(dt.UTC)
    rec = Recorder(rng)
    for i, name in enumerate(names):
        catalogue[name].build(rec, start + i * spacing + dt.timedelta(hours=1), res, rng)
    attack_ids = [r["eventID"] for r in rec.records]
    end = start + len(names) * spacing + dt.timedelta(hours=1, minutes=30)
    benign_records(rec, start, end, benign, rng=rng)
    files = write_delivery_files(rec.records, Path(out), rng)
    return SimulationResult(files, len(rec.records), start, end, list(names), res, attack_ids)
