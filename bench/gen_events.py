"""Synthetic but realistic CloudTrail delivery files, for benchmarks.

Records follow the shapes of real CloudTrail management and data events (IAM users, assumed
roles with ``sessionContext``, AWS services, console sign-ins; nested request parameters,
``resources`` with ``ARN``, ``tlsDetails``, errors on a few percent), about 1.3 KB each, with
times that advance across files like a trail's 5-minute delivery files. The shapes were written
for this project after looking at the real records in ``/work/shared/reference/``; no record is
copied from there.

Use from other benchmarks (run from the repository root or from ``bench/``)::

    from gen_events import ensure_dataset, ensure_store, make_records   # bench/ on sys.path
    root, manifest = ensure_dataset(records=1_000_000, files=1000)      # cached under bench/data/
    db = ensure_store(records=1_000_000, files=1000)                    # the 1M-event local store

or generate elsewhere: ``python bench/gen_events.py --records 1000 --files 10 --out /tmp/ct``.

Generation is deterministic for a given seed, runs one process per core, and writes files
shaped like a trail's S3 keys
(``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

try:  # orjson is a project dependency; fall back to json so the module imports anywhere.
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover
    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

DATA_DIR = Path(__file__).resolve().parent / "data"
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
FILE_SPAN = dt.timedelta(minutes=5)  # CloudTrail delivers a file about every 5 minutes
ACCOUNTS = ("111122223333", "444455556666", "777788889999")
REGIONS = ("us-east-1", "us-east-1", "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
USER_AGENTS = (
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/command#s3.cp",
    "Boto3/1.35.10 md/Botocore#1.35.10 ua/2.0 os/linux#5.10.223 md/arch#x86_64 "
    "lang/python#3.12.4 exec-env/AWS_Lambda_python3.12 Botocore/1.35.10",
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.3",
    "aws-sdk-java/2.26.25 Linux/5.15.0-1066-aws OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 "
    "vendor/Eclipse_Adoptium io/sync http/Apache cfg/retry-mode/legacy",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.64.0 aws-sdk-go-v2/1.30.4 "
    "os/linux lang/go#1.22.5",
    "console.amazonaws.com",
)
SERVICE_PRINCIPALS = ("ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com",
                      "cloudformation.amazonaws.com", "config.amazonaws.com")
TLS = ("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_HEX = "0123456789abcdef"


class _Gen:
    """Random pieces of records, from one seeded ``random.Random``."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        r = self.r
        self.users = [f"{n}.{s}" for n in ("alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                           "heidi", "ivan", "judy", "mallory", "oscar") for s in ("dev", "ops")]
        self.roles = [f"{p}-{s}" for p in ("app", "ci", "data", "etl", "web", "batch", "ops", "audit")
                      for s in ("deploy", "reader", "writer", "runner")]
        self.buckets = [f"acme-{p}-{r.randrange(10**6):06d}" for p in ("logs", "data", "assets", "backup",
                                                                      "reports", "tmp", "raw", "curated")]
        self.ips = [f"{r.randrange(3, 223)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"
                    for _ in range(4000)]
        self.principal_ids = {u: "AIDA" + self.token(17) for u in self.users}
        self.role_ids = {ro: "AROA" + self.token(17) for ro in self.roles}

    def token(self, n: int) -> str:
        r = self.r
        return "".join(r.choices(_UPPER, k=n))

    def uuid(self) -> str:
        h = f"{self.r.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def hexid(self, n: int) -> str:
        return f"{self.r.getrandbits(4 * n):0{n}x}"

    def iso(self, t: dt.datetime) -> str:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def identity(self, account: str, t: dt.datetime) -> dict[str, Any]:
        r = self.r
        x = r.random()
        if x < 0.5:
            user = r.choice(self.users)
            return {"type": "IAMUser", "principalId": self.principal_ids[user],
                    "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account,
                    "accessKeyId": "AKIA" + self.token(16), "userName": user}
        if x < 0.93:
            role = r.choice(self.roles)
            session = r.choice(("i-0" + self.hexid(16), f"botocore-session-{r.randrange(10**10)}",
                                r.choice(self.users), f"aws-go-sdk-{r.randrange(10**18)}"))
            rid = self.role_ids[role]
            return {"type": "AssumedRole", "principalId": f"{rid}:{session}",
                    "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
                    "accessKeyId": "ASIA" + self.token(16),
                    "sessionContext": {
                        "sessionIssuer": {"type": "Role", "principalId": rid,
                                          "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account,
                                          "userName": role},
                        "webIdFederationData": {},
                        "attributes": {"creationDate": self.iso(t - dt.timedelta(seconds=r.randrange(3600))),
                                       "mfaAuthenticated": r.choice(("false", "false", "true"))},
                        **({"ec2RoleDelivery": "2.0"} if session.startswith("i-") else {})}}
        return {"type": "AWSService", "invokedBy": r.choice(SERVICE_PRINCIPALS)}

    def base(self, t: dt.datetime, account: str, region: str, source: str, name: str,
             read_only: bool, ident: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.r
        ident = ident or self.identity(account, t)
        service = ident.get("invokedBy") if ident["type"] == "AWSService" else None
        tls_version, cipher = r.choice(TLS)
        host = f"{source.split('.')[0]}.{region}.amazonaws.com"
        rec: dict[str, Any] = {
            "eventVersion": "1.09" if r.random() < 0.8 else "1.08",
            "userIdentity": ident,
            "eventTime": self.iso(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": service or r.choice(self.ips),
            "userAgent": service or r.choice(USER_AGENTS),
            "requestParameters": None,
            "responseElements": None,
            "requestID": self.uuid(),
            "eventID": self.uuid(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        if not service:
            rec["tlsDetails"] = {"tlsVersion": tls_version, "cipherSuite": cipher, "clientProvidedHostHeader": host}
        return rec

    def maybe_error(self, rec: dict[str, Any], rate: float = 0.04) -> dict[str, Any]:
        r = self.r
        if r.random() < rate:
            action = rec["eventSource"].split(".")[0] + ":" + rec["eventName"]
            arn = rec["userIdentity"].get("arn", "unknown")
            rec["errorCode"] = r.choice(("AccessDenied", "Client.UnauthorizedOperation", "ThrottlingException"))
            rec["errorMessage"] = (f"User: {arn} is not authorized to perform: {action} because no "
                                   "identity-based policy allows the action")
            rec["responseElements"] = None
        return rec


def _s3_object(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    name = r.choice(("GetObject", "GetObject", "PutObject", "HeadObject", "DeleteObject"))
    rec = g.base(t, account, region, "s3.amazonaws.com", name, name in ("GetObject", "HeadObject"))
    bucket = r.choice(g.buckets)
    key = f"{r.choice(('year=2026', 'exports', 'incoming', 'app'))}/{g.hexid(6)}/part-{r.randrange(10**4):04d}.gz"
    rec.update({
        "eventCategory": "Data", "managementEvent": False,
        "requestParameters": {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key},
        "responseElements": {"x-amz-server-side-encryption": "aws:kms"} if name == "PutObject" else None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                "bytesTransferredIn": r.randrange(0, 10**6) if name == "PutObject" else 0,
                                "bytesTransferredOut": r.randrange(0, 10**7) if name == "GetObject" else 0,
                                "AuthenticationMethod": "AuthHeader"},
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                      {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
        "sharedEventID": g.uuid() if r.random() < 0.1 else None,
    })
    if rec["sharedEventID"] is None:
        del rec["sharedEventID"]
    return g.maybe_error(rec)


def _assume_role(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    role = r.choice(g.roles)
    session = f"session-{r.randrange(10**9)}"
    rec = g.base(t, account, region, "sts.amazonaws.com", "AssumeRole", True)
    rec["requestParameters"] = {"roleArn": f"arn:aws:iam::{account}:role/{role}", "roleSessionName": session,
                                "durationSeconds": r.choice((900, 3600, 43200))}
    rec["responseElements"] = {
        "credentials": {"accessKeyId": "ASIA" + g.token(16), "sessionToken": g.token(48),
                        "expiration": (t + dt.timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p")},
        "assumedRoleUser": {"assumedRoleId": f"{g.role_ids[role]}:{session}",
                            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}"}}
    rec["resources"] = [{"accountId": account, "type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{account}:role/{role}"}]
    if rec["userIdentity"]["type"] == "AWSService":
        rec["sharedEventID"] = g.uuid()
    return g.maybe_error(rec)


def _ec2_describe(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    name = r.choice(("DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes", "DescribeSubnets",
                     "DescribeInstanceStatus", "DescribeSnapshots"))
    rec = g.base(t, account, region, "ec2.amazonaws.com", name, True)
    rec["requestParameters"] = {
        "maxResults": r.choice((100, 200, 1000)),
        "filterSet": {"items": [{"name": "tag:Environment", "valueSet": {"items": [{"value": r.choice(("prod", "dev"))}]}}]},
        "instancesSet": {"items": [{"instanceId": "i-0" + g.hexid(16)} for _ in range(r.randrange(0, 3))]},
    }
    return g.maybe_error(rec)


def _kms(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    name = r.choice(("Decrypt", "Decrypt", "GenerateDataKey", "Encrypt"))
    key = f"arn:aws:kms:{region}:{account}:key/{g.uuid()}"
    rec = g.base(t, account, region, "kms.amazonaws.com", name, name == "Decrypt")
    rec["requestParameters"] = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": key,
                                "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{r.choice(g.buckets)}/{g.hexid(12)}"}}
    rec["resources"] = [{"accountId": account, "type": "AWS::KMS::Key", "ARN": key}]
    return g.maybe_error(rec, 0.01)


def _iam_write(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    user = r.choice(g.users)
    name = r.choice(("CreateAccessKey", "AttachUserPolicy", "PutRolePolicy", "CreateUser", "UpdateAssumeRolePolicy",
                     "DeleteAccessKey"))
    rec = g.base(t, account, "us-east-1", "iam.amazonaws.com", name, False)
    rec["tlsDetails"] = rec.get("tlsDetails") and {**rec["tlsDetails"], "clientProvidedHostHeader": "iam.amazonaws.com"}
    if name in ("CreateAccessKey", "DeleteAccessKey"):
        rec["requestParameters"] = {"userName": user} | ({"accessKeyId": "AKIA" + g.token(16)} if name[0] == "D" else {})
        if name == "CreateAccessKey":
            rec["responseElements"] = {"accessKey": {"userName": user, "accessKeyId": "AKIA" + g.token(16),
                                                     "status": "Active", "createDate": t.strftime("%b %d, %Y %I:%M:%S %p")}}
    elif name in ("AttachUserPolicy",):
        rec["requestParameters"] = {"userName": user, "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    elif name == "CreateUser":
        rec["requestParameters"] = {"userName": f"svc-{g.hexid(6)}", "tags": [{"key": "team", "value": "data"}]}
        rec["responseElements"] = {"user": {"path": "/", "userName": f"svc-{g.hexid(6)}", "userId": "AIDA" + g.token(17),
                                            "arn": f"arn:aws:iam::{account}:user/svc", "createDate": t.strftime("%b %d, %Y %I:%M:%S %p")}}
    else:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                       "Resource": f"arn:aws:s3:::{r.choice(g.buckets)}/*"}]}
        rec["requestParameters"] = {"roleName": r.choice(g.roles), "policyName": "inline-" + g.hexid(4),
                                    "policyDocument": json.dumps(doc)}
    return g.maybe_error(rec, 0.08)


def _console_login(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    user = r.choice(g.users)
    ident = {"type": "IAMUser", "principalId": g.principal_ids[user], "arn": f"arn:aws:iam::{account}:user/{user}",
             "accountId": account, "userName": user}
    rec = g.base(t, account, "us-east-1", "signin.amazonaws.com", "ConsoleLogin", False, ident)
    ok = r.random() < 0.9
    rec.update({"eventType": "AwsConsoleSignIn", "userAgent": USER_AGENTS[4],
                "responseElements": {"ConsoleLogin": "Success" if ok else "Failure"},
                "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                                        "MobileVersion": "No", "MFAUsed": r.choice(("Yes", "No"))}})
    if not ok:
        rec["errorMessage"] = "Failed authentication"
    return rec


def _lambda_cloudwatch(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    src, name = r.choice((("logs.amazonaws.com", "CreateLogStream"), ("monitoring.amazonaws.com", "PutMetricData"),
                          ("lambda.amazonaws.com", "GetFunction20150331v2"),
                          ("secretsmanager.amazonaws.com", "GetSecretValue"), ("ssm.amazonaws.com", "GetParameters")))
    rec = g.base(t, account, region, src, name, name.startswith("Get"))
    if src == "logs.amazonaws.com":
        rec["requestParameters"] = {"logGroupName": f"/aws/lambda/fn-{r.randrange(50)}",
                                    "logStreamName": f"2026/11/01/[$LATEST]{g.hexid(32)}"}
    elif src == "monitoring.amazonaws.com":
        rec["requestParameters"] = {"namespace": "App/Metrics", "metricData": [{"metricName": "Latency", "value": r.random()}]}
    elif src == "secretsmanager.amazonaws.com":
        rec["requestParameters"] = {"secretId": f"arn:aws:secretsmanager:{region}:{account}:secret:db-{g.hexid(6)}"}
    elif src == "ssm.amazonaws.com":
        rec["requestParameters"] = {"names": [f"/app/{g.hexid(4)}/db-url"], "withDecryption": True}
    else:
        rec["requestParameters"] = {"functionName": f"fn-{r.randrange(50)}"}
    rec["apiVersion"] = "2015-03-31" if src.startswith("lambda") else None
    if rec["apiVersion"] is None:
        del rec["apiVersion"]
    return g.maybe_error(rec)


def _service_event(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    ident = {"accountId": account, "invokedBy": "kms.amazonaws.com", "type": "AWSService"}
    rec = g.base(t, account, region, "kms.amazonaws.com", r.choice(("RotateKey", "DeleteExpiredKeyMaterial")), False, ident)
    key = f"arn:aws:kms:{region}:{account}:key/{g.uuid()}"
    rec.update({"eventType": "AwsServiceEvent", "readOnly": False, "requestParameters": None,
                "serviceEventDetails": {"keyId": key, "rotationType": "AUTOMATIC", "details": {"attempt": r.randrange(3)}},
                "resources": [{"accountId": account, "type": "AWS::KMS::Key", "ARN": key}],
                "sharedEventID": g.uuid()})
    rec.pop("tlsDetails", None)
    return rec


def _ec2_write(g: _Gen, t: dt.datetime, account: str, region: str) -> dict[str, Any]:
    r = g.r
    name = r.choice(("RunInstances", "AuthorizeSecurityGroupIngress", "CreateTags", "StopInstances"))
    rec = g.base(t, account, region, "ec2.amazonaws.com", name, False)
    if name == "RunInstances":
        rec["requestParameters"] = {"instancesSet": {"items": [{"imageId": "ami-0" + g.hexid(16), "minCount": 1, "maxCount": 1}]},
                                    "instanceType": r.choice(("t3.micro", "m5.large", "c6i.xlarge")),
                                    "blockDeviceMapping": {}, "monitoring": {"enabled": False},
                                    "disableApiTermination": False, "clientToken": g.uuid(),
                                    "subnetId": "subnet-0" + g.hexid(16)}
        rec["responseElements"] = {"requestId": rec["requestID"], "reservationId": "r-0" + g.hexid(16),
                                   "ownerId": account, "instancesSet": {"items": [{"instanceId": "i-0" + g.hexid(16),
                                                                                   "instanceState": {"code": 0, "name": "pending"}}]}}
    elif name == "AuthorizeSecurityGroupIngress":
        rec["requestParameters"] = {"groupId": "sg-0" + g.hexid(16), "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": r.choice((22, 443, 3389)), "toPort": 443,
             "ipRanges": {"items": [{"cidrIp": r.choice(("0.0.0.0/0", "10.0.0.0/8"))}]}}]}}
        rec["responseElements"] = {"requestId": rec["requestID"], "_return": True}
    else:
        rec["requestParameters"] = {"resourcesSet": {"items": [{"resourceId": "i-0" + g.hexid(16)}]},
                                    "tagSet": {"items": [{"key": "owner", "value": r.choice(g.users)}]}}
        rec["responseElements"] = {"requestId": rec["requestID"], "_return": True}
    return g.maybe_error(rec)


# (weight, maker): roughly the mix of a busy account with S3 data events on.
KINDS: tuple[tuple[float, Callable[[_Gen, dt.datetime, str, str], dict[str, Any]]], ...] = (
    (0.30, _s3_object), (0.14, _assume_role), (0.16, _ec2_describe), (0.14, _kms), (0.03, _iam_write),
    (0.01, _console_login), (0.14, _lambda_cloudwatch), (0.02, _service_event), (0.06, _ec2_write),
)
_MAKERS = [m for _, m in KINDS]
_WEIGHTS = [w for w, _ in KINDS]


def make_records(n: int, *, seed: int = 0, start: dt.datetime = START,
                 span: dt.timedelta = FILE_SPAN, account: str | None = None,
                 region: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``n`` records with times spread over ``[start, start + span)``, in time order."""
    g = _Gen(seed)
    r = g.r
    step = span.total_seconds() / max(n, 1)
    kinds = r.choices(_MAKERS, _WEIGHTS, k=n)
    for i, maker in enumerate(kinds):
        t = start + dt.timedelta(seconds=int(i * step))
        yield maker(g, t, account or r.choice(ACCOUNTS), region or r.choice(REGIONS))


def file_name(root: Path, index: int, account: str, region: str, t: dt.datetime, seed: int) -> Path:
    stamp = t.strftime("%Y%m%dT%H%MZ")
    rid = f"{random.Random(seed * 1_000_003 + index).getrandbits(64):016x}"
    return (root / "AWSLogs" / account / "CloudTrail" / region / t.strftime("%Y/%m/%d")
            / f"{account}_CloudTrail_{region}_{stamp}_{rid}.json.gz")


def _write_file(args: tuple[Path, int, int, int, Sequence[dict[str, Any]]]) -> tuple[int, int]:
    root, index, count, seed, extra = args
    r = random.Random(seed * 7919 + index)
    account, region = r.choice(ACCOUNTS), r.choice(REGIONS)
    t0 = START + FILE_SPAN * index
    recs = list(make_records(count, seed=seed * 1_000_003 + index, start=t0, account=account, region=region))
    for e in extra:
        recs.insert(r.randrange(len(recs) + 1), e)
    body = b'{"Records":[' + b",".join(_dumps(x) for x in recs) + b"]}"
    path = file_name(root, index, account, region, t0, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(gzip.compress(body, compresslevel=6, mtime=0))
    tmp.replace(path)
    return len(recs), len(body)


def generate(out: str | os.PathLike[str], *, records: int = 1_000_000, files: int = 1000, seed: int = 0,
             inject: Sequence[dict[str, Any]] = (), workers: int | None = None) -> dict[str, Any]:
    """Write ``records`` generated records (plus ``inject``, spread over the files) into ``files`` files.

    Returns a manifest: counts, bytes, seed, and the file list (relative to ``out``).
    """
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    files = max(1, min(files, records or 1))
    per, rest = divmod(records, files)
    extra: list[list[dict[str, Any]]] = [[] for _ in range(files)]
    for i, e in enumerate(inject):
        extra[(i * 7919) % files].append(e)
    jobs = [(root, i, per + (1 if i < rest else 0), seed, extra[i]) for i in range(files)]
    workers = workers or min(os.cpu_count() or 1, 8)
    started = time.perf_counter()
    if workers > 1 and files > 1:
        with ProcessPoolExecutor(workers) as pool:
            stats = list(pool.map(_write_file, jobs, chunksize=max(1, files // (workers * 8))))
    else:
        stats = [_write_file(j) for j in jobs]
    paths = sorted(str(p.relative_to(root)) for p in root.rglob("*.json.gz"))
    return {"records": sum(s[0] for s in stats), "files": len(paths), "seed": seed,
            "json_bytes": sum(s[1] for s in stats),
            "gz_bytes": sum((root / p).stat().st_size for p in paths),
            "seconds": round(time.perf_counter() - started, 2), "paths": paths}


def ensure_dataset(records: int = 1_000_000, files: int = 1000, *, seed: int = 0,
                   data_dir: Path = DATA_DIR, quiet: bool = False) -> tuple[Path, dict[str, Any]]:
    """The directory of a cached data set (generated on first use) and its manifest.

    The manifest sits beside the directory (``<dir>.json``), so ingesting the directory reads
    only delivery files.
    """
    root = data_dir / f"ct-{records}-{files}-s{seed}"
    manifest_path = root.with_suffix(".json")
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all((root / p).exists() for p in manifest["paths"]):
            return root, manifest
    if root.exists():
        shutil.rmtree(root)
    if not quiet:
        print(f"generating {records:,} records in {files:,} files under {root} ...", file=sys.stderr, flush=True)
    manifest = generate(root, records=records, files=files, seed=seed)
    manifest_path.write_text(json.dumps(manifest))
    if not quiet:
        print(f"  done in {manifest['seconds']} s: {manifest['json_bytes'] / 1e6:,.0f} MB JSON, "
              f"{manifest['gz_bytes'] / 1e6:,.0f} MB gzipped", file=sys.stderr)
    return root, manifest


def ensure_store(records: int = 1_000_000, files: int = 1000, *, seed: int = 0,
                 data_dir: Path = DATA_DIR, quiet: bool = False) -> Path:
    """A local TrailHound event store (DuckDB file) holding the cached data set; built on first use."""
    root, manifest = ensure_dataset(records, files, seed=seed, data_dir=data_dir, quiet=quiet)
    db = root.parent / f"{root.name}.duckdb"
    if db.exists():
        return db
    from trailhound.store.local import LocalStore  # the project's own loader

    tmp = db.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    with LocalStore(tmp) as store:
        summary = store.ingest([root])
    if summary.added != manifest["records"]:
        raise RuntimeError(f"{db}: expected {manifest['records']} events, ingest added {summary.added}")
    tmp.replace(db)
    return db


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write here (default: the cache under bench/data/)")
    args = ap.parse_args(argv)
    if args.out:
        manifest = generate(args.out, records=args.records, files=args.files, seed=args.seed)
        root = Path(args.out)
    else:
        root, manifest = ensure_dataset(args.records, args.files, seed=args.seed)
    print(json.dumps({"dir": str(root), **{k: v for k, v in manifest.items() if k != "paths"}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
