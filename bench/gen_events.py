"""Synthetic but realistic CloudTrail delivery files, for benchmarks.

Records follow the shapes of real CloudTrail management and data events (IAM users, assumed
roles with ``sessionContext``, AWS services, console sign-ins; nested request parameters,
``resources`` with ``ARN``, ``tlsDetails``, errors on a few percent), about 1.4 KB each, with
times that advance across files like a trail's 5-minute delivery files. The shapes were written
for this project after looking at the real records in ``/work/shared/reference/``; no record is
copied from there.

The records are the everyday activity of three accounts, with no attack in them: one *world* is
built from the seed (people with IAM users or SSO sessions, a few stable access keys and home
addresses each; service users; CI and IaC roles used from a few CI egress addresses; per region
a fleet of instances, each with its instance role, a stable instance id and egress address and
one role session per few-hour period; Lambda functions, buckets, KMS keys, secrets,
parameters, security groups), and each delivery file only *selects* from it with its own
``random.Random``. Rare things stay rare and look like administrators' work: about 1% of
ingress rules open a load balancer's 443/80 to the world (never SSH/RDP); access keys are created
by users for themselves or by CloudFormation for the service users it manages; console sign-ins
use MFA or SSO; errors are a few percent, spread thinly over principals (a principal refused
access is refused on one API, not across the board). The detection pack raises only those
world-open 443/80 rules (low severity) on this data.

The cache directory's name carries ``GENERATOR`` (``bench/data/ct-<records>-<files>-s<seed>-g<N>``), so
data cached by an older generator is left alone and never served as this one's.

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
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any, Generic, TypeVar

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
# Version of the generated data: part of the cache directory's name, so a change of the
# generator never serves a data set cached by an older one.
GENERATOR = 2
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
_CLI, _LAMBDA_UA, _GO, _JAVA, _CHROME, _SAFARI, _TF, _CONSOLE = USER_AGENTS
_MAC_CLI = ("aws-cli/2.17.18 md/awscrt#0.20.11 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.11.9 "
            "md/pyimpl#CPython cfg/retry-mode#standard md/command#s3.ls")
_EC2_BOTO = ("Boto3/1.35.10 md/Botocore#1.35.10 ua/2.0 os/linux#6.1.102-111.182.amzn2023.x86_64 "
             "md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.35.10")
_CW_AGENT = "aws-sdk-go/1.48.6 (go1.22.7; linux; amd64) CWAgent/1.300044.0b816"
# What long-lived workloads send: often an SDK a few releases old, with the short user agents of then.
_APP_UAS = ("aws-sdk-go/1.44.329 (go1.20.12; linux; amd64)", "Boto3/1.26.137 Python/3.9.16 Linux/5.10.184 Botocore/1.29.137",
            "aws-sdk-java/1.12.529 Linux/5.10.192 OpenJDK_64-Bit_Server_VM/17.0.8+7-LTS java/17.0.8",
            "aws-sdk-nodejs/2.1450.0 linux/v18.17.1 exec-env/AWS_ECS_EC2", _EC2_BOTO, _JAVA)
TLS = ("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_REGION_SHORT = {"us-east-1": "use1", "us-west-2": "usw2", "eu-west-1": "euw1", "eu-central-1": "euc1",
                 "ap-southeast-2": "apse2"}

# People (each has SSO access to every account; some also an IAM user there).
_PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mike", "oscar",
           "peggy", "rupert", "sybil", "trent", "victor", "walter", "wendy", "yuri", "zoe", "nina", "omar", "lena")
_BUCKETS = ("logs", "data", "assets", "backup", "reports", "tmp", "raw", "curated")
# Workloads: name -> {bucket purpose: S3 calls it makes there (G=Get, P=Put, H=Head, D=Delete)}.
# Nobody both deletes objects in a bucket and reads or writes there: deletion is a retention job's.
_EC2_APPS = {
    "web-app": {"assets": "GH", "reports": "G"},
    "api-server": {"data": "GPH", "curated": "GH"},
    "batch-worker": {"raw": "GH", "curated": "PH", "tmp": "GPH"},
    "etl-runner": {"raw": "GPH", "curated": "GPH", "data": "G"},
    "eks-node": {"assets": "GH", "data": "G"},
}
_LAMBDA_APPS = {
    "orders-api": {"data": "GPH"},
    "thumbnailer": {"assets": "GPH"},
    "billing-worker": {"data": "G", "reports": "P"},
    "report-builder": {"curated": "GH", "reports": "PH"},
    "audit-export": {"logs": "PH"},
    "webhook-relay": {"tmp": "P"},
    "retention-cleaner": {"tmp": "HD", "logs": "HD", "raw": "HD"},
    "instance-scheduler": {},
}
_VPC_LAMBDAS = frozenset({"orders-api", "billing-worker", "report-builder"})
# Service users: access keys of jobs that run outside AWS (on premises, at partners).
_SVC_USERS = {
    "svc-backup": {"backup": "PH"},
    "svc-reporting": {"reports": "GH", "curated": "G"},
    "svc-partner-sftp": {"raw": "PH"},
    "svc-legacy-billing": {"data": "GPH"},
    "svc-datalake-sync": {"raw": "PH", "curated": "GH"},
    "svc-inventory": {},
}
_PERSON_S3 = {**{b: "GH" for b in _BUCKETS}, "tmp": "GPH"}
_CI_S3 = {"assets": "PH"}

T = TypeVar("T")


class _Pick(Generic[T]):
    """Weighted choice among fixed items (bisect on cumulative weights)."""

    def __init__(self, weighted: Sequence[tuple[float, T]]):
        items = [(w, x) for w, x in weighted if w > 0]
        self.items = [x for _, x in items]
        self.cum = list(accumulate(w for w, _ in items))

    def __call__(self, r: random.Random) -> T:
        return r.choices(self.items, cum_weights=self.cum)[0]


def _spread(groups: Sequence[tuple[float, Sequence[T]]]) -> _Pick[T]:
    """Each group gets its weight, shared evenly by its members."""
    return _Pick([(w / len(g), x) for w, g in groups if g for x in g])


@dataclass(eq=False)
class _Person:
    handle: str
    email: str
    ips: tuple[str, ...]
    uas: tuple[str, ...]
    secrets: tuple[str, ...] = ()  # the few secrets they open by hand (app names)


@dataclass(eq=False)
class _Actor:
    """A principal of one account: an IAM user, or a role with its sessions."""

    uid: int
    account: str
    kind: str                     # user | svc | sso | person_role | ci | cfn | slr | instance | lambda
    name: str                     # user name, or role name (no path)
    pid: str                      # AIDA... (user) or AROA... (role)
    arn: str                      # user ARN, or the role's ARN (with its path)
    uas: tuple[str, ...]
    ips: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()    # IAM users' access keys
    session: str = ""             # fixed session name ("" = one per period)
    period: int = 3600            # seconds a role session (or a person's location) lasts
    offset: int = 0
    ec2: bool = False
    invoked_by: str | None = None
    mfa: bool = False
    denied: str | None = None     # the one API this principal lacks a permission for
    person: _Person | None = None
    app: str = ""
    s3: dict[str, str] = field(default_factory=dict)   # bucket purpose -> G/P/H/D
    instance_id: str = ""
    private_ip: str = ""
    behind_nat: bool = False

    @property
    def is_role(self) -> bool:
        return self.kind not in ("user", "svc")


@dataclass(eq=False)
class _Place:
    """One account in one region: its resources, and who does what there."""

    account: str
    region: str
    buckets: dict[str, str]
    keys: dict[str, str]
    secrets: dict[str, str]                     # app name -> secret ARN
    params: dict[str, list[str]]                # app name -> parameter names it reads together
    instances: list[_Actor]
    lambdas: dict[str, _Actor]
    nat_ips: tuple[str, ...]
    vpce: str
    sgs: tuple[str, ...]
    subnets: tuple[str, ...]
    amis: tuple[str, ...]
    picks: dict[str, Any] = field(default_factory=dict)


class _World:
    """Everything that does not change from one delivery file to the next, built from the seed."""

    def __init__(self, seed: int):
        self.seed = seed
        r = self.r = random.Random(f"world:{seed}")
        self._ips: set[str] = set()
        self._uid = 0
        self.sessions: dict[tuple[int, int], tuple[str, str, str, str]] = {}
        offices = (self.ip((81, 86, 91, 145, 185, 212)), self.ip((38, 64, 66, 96, 204)))
        self.ci_ips = tuple(self.ip((4, 13, 20, 40, 52)) for _ in range(4))
        self.people = []
        for h in _PEOPLE:
            home = [self.ip((24, 67, 71, 73, 76, 98, 108, 174, 82, 92, 151, 213)) for _ in range(r.randint(1, 2))]
            ips = ([r.choice(offices)] if r.random() < 0.6 else []) + home
            uas = (r.choice((_CLI, _MAC_CLI)), r.choice((_CHROME, _SAFARI)))
            self.people.append(_Person(h, f"{h}@acme.example", tuple(ips[:3]), uas))
        apps = (*_EC2_APPS, *[a for a in _LAMBDA_APPS if a not in ("retention-cleaner", "instance-scheduler")])
        for p in self.people:
            p.secrets = tuple(r.sample(apps, 2))
        self.accounts = {a: self._account(a) for a in ACCOUNTS}
        self.places = {(a, g): self._place(a, g) for a in ACCOUNTS for g in dict.fromkeys(REGIONS)}

    # --- building blocks ---------------------------------------------------------------------
    def ip(self, first: Sequence[int]) -> str:
        r = self.r
        while True:
            ip = f"{r.choice(first)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"
            if ip not in self._ips:
                self._ips.add(ip)
                return ip

    def token(self, n: int, alphabet: str = _UPPER) -> str:
        return "".join(self.r.choices(alphabet, k=n))

    def hexid(self, n: int) -> str:
        return f"{self.r.getrandbits(4 * n):0{n}x}"

    def uuid(self) -> str:
        h = self.hexid(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def actor(self, account: str, kind: str, name: str, uas: Sequence[str], *, path: str = "/",
              pid: str | None = None, **kw: Any) -> _Actor:
        self._uid += 1
        role = kind not in ("user", "svc")
        pid = pid or ("AROA" if role else "AIDA") + self.token(17)
        arn = f"arn:aws:iam::{account}:{'role' if role else 'user'}{path}{name}"
        denied = None
        if self.r.random() < 0.15:  # a permission gap: this principal is refused one API, sometimes
            denied = self.r.choice(("GetObject", "PutObject", "DescribeInstances", "DescribeSnapshots",
                                    "GetSecretValue", "Decrypt", "GetParameters", "DescribeVolumes",
                                    "GetFunction20150331v2", "AssumeRole"))
        kw.setdefault("offset", self.r.randrange(kw.get("period", 3600)))
        return _Actor(self._uid, account, kind, name, pid, arn, tuple(uas), denied=denied, **kw)

    def _account(self, account: str) -> dict[str, Any]:
        r = self.r
        admins = r.sample(self.people, 8)
        users = [self.actor(account, "user", p.handle, p.uas, person=p, period=8 * 3600, s3=_PERSON_S3,
                            keys=tuple("AKIA" + self.token(16) for _ in range(r.randint(1, 2))))
                 for p in admins]
        role_ids = {n: "AROA" + self.token(17) for n in ("ops-admin", "developer")}
        person_roles = []
        for u in users:
            role = r.choice(("ops-admin", "developer"))
            person_roles.append(self.actor(account, "person_role", role, (_CLI, _MAC_CLI), pid=role_ids[role],
                                           session=u.name, person=u.person, period=3600, mfa=True, s3=_PERSON_S3))
        sets = {ps: (f"AWSReservedSSO_{ps}_{self.hexid(16)}", "AROA" + self.token(17))
                for ps in ("Admin", "Developer", "ReadOnly")}
        sso = []
        for i, p in enumerate(self.people):
            name, rid = sets["Admin" if i % 6 == 0 else "Developer" if i % 2 else "ReadOnly"]
            sso.append(self.actor(account, "sso", name, p.uas, path="/aws-reserved/sso.amazonaws.com/", pid=rid,
                                  session=p.email, person=p, period=8 * 3600, s3=_PERSON_S3))
        svc = [self.actor(account, "svc", n, (r.choice(_APP_UAS),), s3=s3,
                          ips=tuple(self.ip((64, 104, 162, 192, 209)) for _ in range(r.randint(1, 2))),
                          keys=("AKIA" + self.token(16),))
               for n, s3 in _SVC_USERS.items()]
        ci = [self.actor(account, "ci", "github-actions-deploy", (_CLI,), ips=self.ci_ips, period=1800, s3=_CI_S3),
              self.actor(account, "ci", "terraform-apply", (_TF,), ips=self.ci_ips, period=1800)]
        cfn = self.actor(account, "cfn", "cfn-exec-role", ("cloudformation.amazonaws.com",),
                         session="AWSCloudFormation", invoked_by="cloudformation.amazonaws.com")
        slr = {svc: self.actor(account, "slr", f"AWSServiceRoleFor{n}", (f"{svc}.amazonaws.com",),
                               path=f"/aws-service-role/{svc}.amazonaws.com/", session=s,
                               invoked_by=f"{svc}.amazonaws.com")
               for svc, n, s in (("autoscaling", "AutoScaling", "AutoScaling"),
                                 ("config", "Config", "AWSConfig-Describe"))}
        app_roles = {a: ("AROA" + self.token(17), f"{a}-role") for a in (*_EC2_APPS, *_LAMBDA_APPS)}
        return {"users": users, "person_roles": person_roles, "sso": sso, "svc": svc, "ci": ci, "cfn": cfn,
                "slr": slr, "app_roles": app_roles,
                "service_users": [f"svc-{s}-{self.hexid(4)}" for s in ("etl", "export", "sftp", "metrics")]}

    def _place(self, account: str, region: str) -> _Place:
        r = self.r
        acc = self.accounts[account]
        short = _REGION_SHORT[region]
        buckets = {p: f"acme-{p}-{account[-4:]}-{short}" for p in _BUCKETS}
        keys = {k: f"arn:aws:kms:{region}:{account}:key/{self.uuid()}" for k in ("s3", "secrets", "ebs", "app")}
        apps = (*_EC2_APPS, *_LAMBDA_APPS)
        secrets = {a: f"arn:aws:secretsmanager:{region}:{account}:secret:prod/{a}/db-credentials-{self.token(6, _ALNUM)}"
                   for a in apps}
        params = {a: [f"/{a}/prod/{n}" for n in r.sample(("db-url", "api-key", "feature-flags", "queue-url",
                                                            "signing-key"), r.randint(1, 3))] for a in apps}
        nat_ips = tuple(self.ip((3, 18, 34, 44, 52, 54)) for _ in range(3))
        lambda_ips = tuple(self.ip((3, 18, 34, 44, 52, 54)) for _ in range(8))
        n_inst = 130 if region == "us-east-1" else 42
        instances = []
        for _ in range(n_inst):
            app = r.choices(list(_EC2_APPS), (5, 3, 3, 2, 4))[0]
            iid = "i-0" + self.hexid(16)
            nat = r.random() < 0.6
            egress = r.choice(nat_ips) if nat else self.ip((3, 18, 34, 44, 52, 54))
            rid, role = acc["app_roles"][app]
            a = self.actor(account, "instance", role, (r.choice(_APP_UAS),),
                           ips=(egress,), session=iid, period=6 * 3600, ec2=True, app=app, s3=_EC2_APPS[app],
                           instance_id=iid, private_ip=f"10.{r.randrange(16)}.{r.randrange(256)}.{r.randrange(1, 255)}",
                           behind_nat=nat, pid=rid)  # every instance of an app has the app's role
            instances.append(a)
        lambdas = {}
        for fn, s3 in _LAMBDA_APPS.items():
            rid, role = acc["app_roles"][fn]
            ua = _LAMBDA_UA if r.random() < 0.3 else "aws-sdk-nodejs/2.1450.0 linux/v18.17.1 exec-env/AWS_Lambda_nodejs18.x"
            lambdas[fn] = self.actor(account, "lambda", role, (ua,), session=fn, period=2 * 3600, app=fn, s3=s3,
                                     ips=nat_ips if fn in _VPC_LAMBDAS else lambda_ips, pid=rid)
        return _Place(account, region, buckets, keys, secrets, params, instances, lambdas, nat_ips,
                      vpce="vpce-0" + self.hexid(16), sgs=tuple("sg-0" + self.hexid(16) for _ in range(24)),
                      subnets=tuple("subnet-0" + self.hexid(16) for _ in range(6)),
                      amis=tuple("ami-0" + self.hexid(16) for _ in range(3)))

    # --- sessions ----------------------------------------------------------------------------
    def session(self, a: _Actor, p: int) -> tuple[str, str, str, str]:
        """(session name, access key, creation time, source address) of actor ``a`` in period ``p``."""
        got = self.sessions.get((a.uid, p))
        if got is None:
            r = random.Random(f"{self.seed}:{a.uid}:{p}")
            name = a.session
            if not name:
                name = (f"GitHubActions-{r.randrange(10**9, 10**10)}" if a.name.startswith("github")
                        else f"aws-go-sdk-{r.randrange(10**18, 10**19)}")
            created = dt.datetime.fromtimestamp(p * a.period + a.offset + r.randrange(30), dt.UTC)
            ips = a.person.ips if a.person else a.ips
            ip = ips[r.randrange(len(ips))] if ips else ""
            got = (name, "ASIA" + "".join(r.choices(_UPPER, k=16)), created.strftime("%Y-%m-%dT%H:%M:%SZ"), ip)
            self.sessions[(a.uid, p)] = got
        return got


_WORLDS: dict[int, _World] = {}


def _world(seed: int) -> _World:
    w = _WORLDS.get(seed)
    if w is None:
        w = _WORLDS[seed] = _World(seed)
    return w


class _Gen:
    """Random pieces of records, from one seeded ``random.Random``; actors and resources from the world."""

    def __init__(self, seed: int, world: _World):
        self.r = random.Random(seed)
        self.w = world

    def token(self, n: int) -> str:
        return "".join(self.r.choices(_UPPER, k=n))

    def uuid(self) -> str:
        h = f"{self.r.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def hexid(self, n: int) -> str:
        return f"{self.r.getrandbits(4 * n):0{n}x}"

    def iso(self, t: dt.datetime) -> str:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def identity(self, a: _Actor, t: dt.datetime) -> tuple[dict[str, Any], str, str]:
        """The ``userIdentity`` of actor ``a`` at ``t``, with its source address and user agent."""
        r = self.r
        p = int((t.timestamp() - a.offset) // a.period)
        name, akid, created, ip = self.w.session(a, p)
        ua = a.uas[0] if len(a.uas) == 1 else r.choice(a.uas)
        if not a.is_role:
            key = a.keys[0] if len(a.keys) == 1 or r.random() < 0.7 else a.keys[1]
            if a.kind == "svc":
                ip = a.ips[0] if len(a.ips) == 1 else r.choice(a.ips)
            return ({"type": "IAMUser", "principalId": a.pid, "arn": a.arn, "accountId": a.account,
                     "accessKeyId": key, "userName": a.name}, ip, ua)
        ctx: dict[str, Any] = {
            "sessionIssuer": {"type": "Role", "principalId": a.pid, "arn": a.arn, "accountId": a.account,
                              "userName": a.name},
            "webIdFederationData": {},
            "attributes": {"creationDate": created, "mfaAuthenticated": "true" if a.mfa else "false"}}
        if a.ec2:
            ctx["ec2RoleDelivery"] = "2.0"
        ident = {"type": "AssumedRole", "principalId": f"{a.pid}:{name}",
                 "arn": f"arn:aws:sts::{a.account}:assumed-role/{a.name}/{name}", "accountId": a.account,
                 "accessKeyId": akid, "sessionContext": ctx}
        if a.invoked_by:
            ident["invokedBy"] = a.invoked_by
            return ident, a.invoked_by, a.invoked_by
        return ident, ip, ua

    def base(self, t: dt.datetime, place: _Place, source: str, name: str, read_only: bool,
             actor: _Actor | None, *, service: str | None = None, region: str | None = None) -> dict[str, Any]:
        """A record's common fields, for ``actor`` (or, with ``service``, an AWS service principal)."""
        r = self.r
        region = region or place.region
        if actor is None:
            ident: dict[str, Any] = {"type": "AWSService", "invokedBy": service}
            ip = ua = service or ""
        else:
            ident, ip, ua = self.identity(actor, t)
            service = actor.invoked_by
        rec: dict[str, Any] = {
            "eventVersion": "1.09" if r.random() < 0.8 else "1.08",
            "userIdentity": ident,
            "eventTime": self.iso(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": ua,
            "requestParameters": None,
            "responseElements": None,
            "requestID": self.uuid(),
            "eventID": self.uuid(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": place.account,
            "eventCategory": "Management",
        }
        if not service:
            tls_version, cipher = TLS[0] if r.random() < 0.7 else TLS[1]
            host = (f"{source.split('.')[0]}.amazonaws.com" if source in _GLOBAL
                    else f"{source.split('.')[0]}.{region}.amazonaws.com")
            rec["tlsDetails"] = {"tlsVersion": tls_version, "cipherSuite": cipher, "clientProvidedHostHeader": host}
            if ua.startswith("Mozilla"):
                rec["sessionCredentialFromConsole"] = "true"
        return rec

    def maybe_error(self, rec: dict[str, Any], actor: _Actor | None, rate: float = 0.03) -> dict[str, Any]:
        """Errors as accounts have them: the odd throttle or missing resource for anyone, and for a
        principal with a permission gap, refusals of that one API."""
        r = self.r
        name = rec["eventName"]
        source = rec["eventSource"]
        svc = source.split(".")[0]
        if actor is not None and actor.denied == name and r.random() < 0.5:
            arn = rec["userIdentity"].get("arn", "unknown")
            action = f"{svc}:{name.removesuffix('20150331v2')}"
            if svc == "ec2":
                code, msg = "Client.UnauthorizedOperation", "You are not authorized to perform this operation. "
            elif svc in ("s3", "sts", "iam"):
                code, msg = "AccessDenied", ""
            else:
                code, msg = "AccessDeniedException", ""
            rec["errorCode"] = code
            rec["errorMessage"] = ("Access Denied" if svc == "s3" else
                                   f"{msg}User: {arn} is not authorized to perform: {action} because no "
                                   "identity-based policy allows the action")
            rec["responseElements"] = None
        elif r.random() < rate:
            code, msg = r.choice(_ERRORS.get(svc, _ERRORS[""]))
            if name in ("GetObject", "HeadObject") and r.random() < 0.7:
                code, msg = "NoSuchKey", "The specified key does not exist."
            rec["errorCode"] = code
            rec["errorMessage"] = msg
            rec["responseElements"] = None
        return rec


_GLOBAL = frozenset({"iam.amazonaws.com", "signin.amazonaws.com"})
_ERRORS: dict[str, tuple[tuple[str, str], ...]] = {
    "": (("ThrottlingException", "Rate exceeded"),),
    "s3": (("SlowDown", "Please reduce your request rate."), ("InternalError", "We encountered an internal error. Please try again.")),
    "ec2": (("Client.RequestLimitExceeded", "Request limit exceeded."),
            ("Client.InvalidParameterValue", "Invalid value for parameter filter")),
    "iam": (("NoSuchEntityException", "The user with name cannot be found."),
            ("LimitExceededException", "Cannot exceed quota for AccessKeysPerUser: 2"),
            ("EntityAlreadyExistsException", "Entity already exists.")),
    "sts": (("ExpiredTokenException", "The security token included in the request is expired"),),
    "kms": (("ThrottlingException", "You have exceeded the rate at which you may call KMS."),),
    "logs": (("ResourceAlreadyExistsException", "The specified log stream already exists"),),
    "lambda": (("ResourceNotFoundException", "Function not found"), ("TooManyRequestsException", "Rate exceeded")),
    "secretsmanager": (("ThrottlingException", "Rate exceeded"),),
    "ssm": (("ThrottlingException", "Rate exceeded"),),
    "monitoring": (("Throttling", "Rate exceeded"),),
}


def _picks(g: _Gen, place: _Place) -> dict[str, Any]:
    """Who does what in ``place`` (built once per place and process)."""
    if place.picks:
        return place.picks
    acc = g.w.accounts[place.account]
    lambdas = list(place.lambdas.values())
    people = acc["sso"] + acc["users"] + acc["person_roles"]
    apps = place.instances + [a for a in lambdas if a.app not in ("retention-cleaner", "instance-scheduler")]
    ci, tf = acc["ci"]
    s3: dict[str, _Pick[tuple[_Actor | None, str]]] = {}
    svc_s3 = [(None, place.buckets["logs"])]  # CloudTrail and log delivery writing into the log bucket
    for op, weights in (("G", (0.24, 0.08, 0.08, 0.55, 0.05, 0)), ("H", (0.24, 0.13, 0.08, 0.55, 0, 0)),
                        ("P", (0.18, 0.08, 0.02, 0.47, 0.1, 0.15)), ("D", (0, 1, 0, 0, 0, 0))):
        def pairs(actors: Sequence[_Actor], op: str = op) -> list[tuple[_Actor | None, str]]:
            return [(a, place.buckets[b]) for a in actors for b, ops in a.s3.items() if op in ops]
        s3[op] = _spread([(weights[0], pairs(place.instances)), (weights[1], pairs(lambdas)),
                          (weights[2], pairs(people)), (weights[3], pairs(acc["svc"])),
                          (weights[4], pairs([ci])), (weights[5], svc_s3)])
    users = acc["users"]
    place.picks = {
        "s3": s3,
        "s3_op": _Pick([(0.46, ("GetObject", "G")), (0.28, ("HeadObject", "H")), (0.2, ("PutObject", "P")),
                        (0.06, ("DeleteObject", "D"))]),
        "apps": _spread([(0.65, place.instances), (0.35, apps[len(place.instances):])]),
        "describe": _spread([(0.08, acc["sso"]), (0.25, users), (0.04, acc["person_roles"]), (0.08, [tf]),
                             (0.04, [ci]), (0.1, place.instances), (0.06, [acc["slr"]["config"]]),
                             (0.35, [a for a in acc["svc"] if a.name == "svc-inventory"])]),
        "kms": _spread([(0.3, place.instances), (0.15, apps[len(place.instances):]),
                        (0.55, [a for a in acc["svc"] if a.s3])]),
        "metrics": _spread([(0.4, place.instances), (0.2, apps[len(place.instances):]),
                            (0.4, [a for a in acc["svc"] if a.s3])]),
        "people": _spread([(0.4, acc["sso"]), (0.45, users), (0.15, acc["person_roles"])]),
        "admins": [a for a in acc["sso"] if "_Admin_" in a.name],
        "iac": _spread([(0.5, [acc["cfn"]]), (0.5, [tf])]),
    }
    return place.picks


def _s3_object(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    r = g.r
    pk = _picks(g, place)
    name, op = pk["s3_op"](r)
    actor, bucket = pk["s3"][op](r)
    region = place.region
    if actor is None:
        rec = g.base(t, place, "s3.amazonaws.com", "PutObject", False, None,
                     service=r.choice(("cloudtrail.amazonaws.com", "delivery.logs.amazonaws.com")))
        name = "PutObject"
        key = f"AWSLogs/{place.account}/{r.choice(('CloudTrail', 'vpcflowlogs', 'elasticloadbalancing'))}/{region}/{t:%Y/%m/%d}/{g.hexid(16)}.gz"
    else:
        rec = g.base(t, place, "s3.amazonaws.com", name, name in ("GetObject", "HeadObject"), actor)
        if actor.behind_nat:  # instances in private subnets reach S3 through the VPC's gateway endpoint
            rec["sourceIPAddress"] = actor.private_ip
            rec["vpcEndpointId"] = place.vpce
        key = f"{r.choice(('in', 'out', 'img', 'db', 'app'))}/{g.hexid(8)}.{r.choice(('gz', 'json', 'jpg', 'csv'))}"
    rec.update({
        "eventCategory": "Data", "managementEvent": False,
        "requestParameters": {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key},
        "responseElements": {"x-amz-server-side-encryption": "aws:kms"} if name == "PutObject" else None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                "bytesTransferredIn": r.randrange(0, 10**6) if name == "PutObject" else 0,
                                "bytesTransferredOut": r.randrange(0, 10**7) if name == "GetObject" else 0,
                                "AuthenticationMethod": "AuthHeader"},
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                      {"accountId": place.account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
    })
    return g.maybe_error(rec, actor)


def _expiration(t: dt.datetime, seconds: int) -> str:
    return (t + dt.timedelta(seconds=seconds)).strftime("%b %d, %Y, %I:%M:%S %p")


def _assume_role(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    """Credentials being handed out: to instances and functions (by EC2 and Lambda), to CI runs
    and to people assuming their role; the credentials are the ones those sessions then use."""
    r = g.r
    acc = g.w.accounts[place.account]
    x = r.random()
    caller: _Actor | None
    if x < 0.75:  # EC2 and Lambda fetching role credentials for an instance or a function
        pk = _picks(g, place)
        target = pk["apps"](r)
        caller, service = None, "ec2.amazonaws.com" if target.ec2 else "lambda.amazonaws.com"
        duration = 21600 if target.ec2 else 43200
    elif x < 0.9:  # a CI run: the workflow's role takes the Terraform role
        caller, target = acc["ci"]
        service, duration = None, 3600
    else:  # a person switching to their role
        pr = r.choice(acc["person_roles"])
        caller = next(u for u in acc["users"] if u.name == pr.session)
        target, service, duration = pr, None, 3600
    rec = g.base(t, place, "sts.amazonaws.com", "AssumeRole", True, caller, service=service)
    session, akid, _, _ = g.w.session(target, int((t.timestamp() - target.offset) // target.period))
    rec["requestParameters"] = {"roleArn": target.arn, "roleSessionName": session, "durationSeconds": duration}
    if target.kind == "person_role":
        rec["requestParameters"]["serialNumber"] = f"arn:aws:iam::{place.account}:mfa/{target.session}"
    rec["responseElements"] = {
        "credentials": {"accessKeyId": akid, "sessionToken": g.token(48), "expiration": _expiration(t, duration)},
        "assumedRoleUser": {"assumedRoleId": f"{target.pid}:{session}",
                            "arn": f"arn:aws:sts::{place.account}:assumed-role/{target.name}/{session}"}}
    rec["resources"] = [{"accountId": place.account, "type": "AWS::IAM::Role", "ARN": target.arn}]
    if caller is None:
        rec["sharedEventID"] = g.uuid()
        return rec
    return g.maybe_error(rec, caller)


_DESCRIBE_BY_INSTANCES = ("DescribeInstances", "DescribeVolumes", "DescribeInstanceStatus")


def _ec2_describe(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    r = g.r
    actor = _picks(g, place)["describe"](r)
    if actor.kind == "instance":  # an agent on the instance looking at itself and its neighbours
        name = r.choice(_DESCRIBE_BY_INSTANCES)
    else:
        name = r.choice(("DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes", "DescribeSubnets",
                         "DescribeInstanceStatus", "DescribeSnapshots"))
    rec = g.base(t, place, "ec2.amazonaws.com", name, True, actor)
    ids = [a.instance_id for a in r.sample(place.instances, r.randrange(0, 3))]
    if actor.kind == "instance" and ids:
        ids[0] = actor.instance_id
    rec["requestParameters"] = {
        "maxResults": r.choice((100, 200, 1000)),
        "filterSet": {"items": [{"name": "tag:Environment", "valueSet": {"items": [{"value": r.choice(("prod", "dev"))}]}}]},
        "instancesSet": {"items": [{"instanceId": i} for i in ids]},
    }
    return g.maybe_error(rec, actor)


def _kms(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    """Applications' envelope encryption, directly or through S3 and Secrets Manager on their behalf."""
    r = g.r
    actor = _picks(g, place)["kms"](r)
    name = r.choice(("Decrypt", "Decrypt", "GenerateDataKey", "Encrypt"))
    x = r.random()
    bucket = place.buckets[next(iter(actor.s3), "data")]
    if x < 0.45:
        key, via, ctx = place.keys["s3"], "s3.amazonaws.com", {"aws:s3:arn": f"arn:aws:s3:::{bucket}/{g.hexid(12)}"}
    elif x < 0.6 and actor.app:
        secret = place.secrets[actor.app]
        key, via, ctx = place.keys["secrets"], "secretsmanager.amazonaws.com", {"SecretARN": secret,
                                                                                 "SecretVersionId": g.uuid()}
    else:
        key, via, ctx = place.keys["app"], None, {"aws:s3:arn": f"arn:aws:s3:::{bucket}/{g.hexid(12)}"}
    rec = g.base(t, place, "kms.amazonaws.com", name, name == "Decrypt", actor)
    if via:
        rec["userIdentity"]["invokedBy"] = via
        rec["sourceIPAddress"] = rec["userAgent"] = via
        rec.pop("tlsDetails", None)
    rec["requestParameters"] = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": key, "encryptionContext": ctx}
    rec["resources"] = [{"accountId": place.account, "type": "AWS::KMS::Key", "ARN": key}]
    return g.maybe_error(rec, actor, 0.01)


_READ_POLICIES = ("arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                  "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess")


def _trust(account: str, role: str) -> str:
    if role.startswith(("github", "terraform")):
        stmt: dict[str, Any] = {
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com"},
            "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme-corp/*"}}}
    elif role in ("ops-admin", "developer"):
        stmt = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
    else:
        svc = "lambda" if role.removesuffix("-role") in _LAMBDA_APPS else "ec2"
        stmt = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": f"{svc}.amazonaws.com"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def _iam_write(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    """IAM changes: IaC (CloudFormation, Terraform) maintaining roles and service users, and people
    rotating their own access keys."""
    r = g.r
    acc = g.w.accounts[place.account]
    pk = _picks(g, place)
    name = r.choices(("PutRolePolicy", "UpdateAssumeRolePolicy", "AttachUserPolicy", "CreateAccessKey",
                      "DeleteAccessKey", "CreateUser"), (0.3, 0.15, 0.15, 0.15, 0.15, 0.1))[0]
    if name in ("CreateAccessKey", "DeleteAccessKey"):
        actor = r.choice(acc["users"]) if r.random() < 0.75 else acc["cfn"]
    elif name == "CreateUser":
        actor = acc["cfn"]
    elif name == "AttachUserPolicy" and r.random() < 0.2:
        actor = r.choice(pk["admins"])
    else:
        actor = pk["iac"](r)
    rec = g.base(t, place, "iam.amazonaws.com", name, False, actor, region="us-east-1")
    stamp = t.strftime("%b %d, %Y %I:%M:%S %p")
    if name in ("CreateAccessKey", "DeleteAccessKey"):
        self_service = actor.kind == "user"
        user = actor.name if self_service else r.choice(acc["service_users"])
        params: dict[str, Any] = {} if self_service and r.random() < 0.5 else {"userName": user}
        if name == "DeleteAccessKey":
            params["accessKeyId"] = "AKIA" + g.token(16)  # the key being retired
        rec["requestParameters"] = params or None
        if name == "CreateAccessKey":
            rec["responseElements"] = {"accessKey": {"userName": user, "accessKeyId": "AKIA" + g.token(16),
                                                     "status": "Active", "createDate": stamp}}
    elif name == "AttachUserPolicy":
        rec["requestParameters"] = {"userName": r.choice(acc["service_users"]), "policyArn": r.choice(_READ_POLICIES)}
    elif name == "CreateUser":
        user = f"svc-{r.choice(('ingest', 'export', 'partner', 'test'))}-{g.hexid(6)}"
        rec["requestParameters"] = {"userName": user, "tags": [{"key": "team", "value": "data"}]}
        rec["responseElements"] = {"user": {"path": "/", "userName": user, "userId": "AIDA" + g.token(17),
                                            "arn": f"arn:aws:iam::{place.account}:user/{user}", "createDate": stamp}}
    elif name == "UpdateAssumeRolePolicy":
        role = r.choice((*acc["app_roles"].values(), (None, "github-actions-deploy"), (None, "ops-admin")))[1]
        rec["requestParameters"] = {"roleName": role, "policyDocument": _trust(place.account, role)}
    else:
        app = r.choice(list(_EC2_APPS))
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                       "Resource": f"arn:aws:s3:::{place.buckets[next(iter(_EC2_APPS[app]))]}/*"}]}
        rec["requestParameters"] = {"roleName": f"{app}-role", "policyName": f"{app}-s3-access",
                                    "policyDocument": json.dumps(doc)}
    return g.maybe_error(rec, actor, 0.03)


def _console_login(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    """Console sign-ins: through IAM Identity Center mostly, else IAM users with MFA."""
    r = g.r
    acc = g.w.accounts[place.account]
    sso = r.random() < 0.6
    actor = r.choice(acc["sso"] if sso else acc["users"])
    rec = g.base(t, place, "signin.amazonaws.com", "ConsoleLogin", False, actor, region="us-east-1")
    ident = rec["userIdentity"]
    ident.pop("accessKeyId", None)
    rec.pop("sessionCredentialFromConsole", None)
    ok = sso or r.random() < 0.97  # IAM users mistype their password now and then
    rec.update({"eventType": "AwsConsoleSignIn", "userAgent": actor.person.uas[1] if actor.person else _CHROME,
                "requestParameters": None,
                "responseElements": {"ConsoleLogin": "Success" if ok else "Failure"},
                "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                                        "MobileVersion": "No", "MFAUsed": "No" if sso or not ok else "Yes"}})
    rec["tlsDetails"]["clientProvidedHostHeader"] = "signin.aws.amazon.com"
    if sso:
        rec["additionalEventData"]["SamlProviderArn"] = (
            f"arn:aws:iam::{place.account}:saml-provider/AWSSSO_{actor.name[-16:]}_DO_NOT_DELETE")
    if not ok:
        rec["errorMessage"] = "Failed authentication"
    return rec


def _lambda_cloudwatch(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    r = g.r
    pk = _picks(g, place)
    acc = g.w.accounts[place.account]
    src, name = r.choice((("logs.amazonaws.com", "CreateLogStream"), ("monitoring.amazonaws.com", "PutMetricData"),
                          ("lambda.amazonaws.com", "GetFunction20150331v2"),
                          ("secretsmanager.amazonaws.com", "GetSecretValue"), ("ssm.amazonaws.com", "GetParameters")))
    if name == "GetFunction20150331v2":  # deploys and people looking at functions
        actor = r.choice(acc["ci"]) if r.random() < 0.4 else pk["people"](r)
    elif name == "GetSecretValue" and r.random() < 0.05:
        actor = r.choice(acc["sso"])
    elif name == "PutMetricData":  # agents on instances, functions, collectors on premises
        actor = pk["metrics"](r)
    else:
        actor = pk["apps"](r)
    rec = g.base(t, place, src, name, name.startswith("Get"), actor)
    if actor.kind == "instance" and name in ("CreateLogStream", "PutMetricData"):
        rec["userAgent"] = _CW_AGENT
    if src == "logs.amazonaws.com":
        group = f"/aws/lambda/{actor.app}" if actor.kind == "lambda" else f"/ec2/{actor.app}/application"
        stream = (f"{t:%Y/%m/%d}/[$LATEST]{g.hexid(32)}" if actor.kind == "lambda"
                  else f"{actor.instance_id}/{g.hexid(8)}")
        rec["requestParameters"] = {"logGroupName": group, "logStreamName": stream}
    elif src == "monitoring.amazonaws.com":
        ns = "CWAgent" if actor.kind == "instance" else "App/Metrics"
        rec["requestParameters"] = {"namespace": ns, "metricData": [{"metricName": "Latency", "value": r.random()}]}
    elif src == "secretsmanager.amazonaws.com":
        app = actor.app or r.choice(actor.person.secrets if actor.person else ("api-server",))
        rec["requestParameters"] = {"secretId": place.secrets[app]}
    elif src == "ssm.amazonaws.com":
        rec["requestParameters"] = {"names": place.params[actor.app], "withDecryption": True}
    else:
        fn = actor.app if actor.kind == "lambda" else r.choice(list(_LAMBDA_APPS))
        rec["requestParameters"] = {"functionName": fn}
    if src.startswith("lambda"):
        rec["apiVersion"] = "2015-03-31"
    return g.maybe_error(rec, actor)


def _service_event(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    r = g.r
    rec = g.base(t, place, "kms.amazonaws.com", r.choice(("RotateKey", "DeleteExpiredKeyMaterial")), False, None,
                 service="kms.amazonaws.com")
    rec["userIdentity"] = {"accountId": place.account, "invokedBy": "kms.amazonaws.com", "type": "AWSService"}
    key = place.keys[r.choice(("s3", "secrets", "ebs", "app"))]
    rec.update({"eventType": "AwsServiceEvent", "readOnly": False, "requestParameters": None,
                "serviceEventDetails": {"keyId": key, "rotationType": "AUTOMATIC", "details": {"attempt": r.randrange(3)}},
                "resources": [{"accountId": place.account, "type": "AWS::KMS::Key", "ARN": key}],
                "sharedEventID": g.uuid()})
    return rec


# Ingress rules as teams add them: from the VPC, the VPN, or another group; open to the world
# about once in a hundred, and then for a public web listener.
_PRIVATE_CIDRS = ("10.0.0.0/8", "10.0.0.0/16", "10.1.0.0/16", "10.200.0.0/16", "172.16.0.0/12")
_PORTS = (443, 443, 5432, 6379, 8080, 8443, 3306, 22, 9090)


def _ec2_write(g: _Gen, t: dt.datetime, place: _Place) -> dict[str, Any]:
    r = g.r
    acc = g.w.accounts[place.account]
    pk = _picks(g, place)
    name = r.choice(("RunInstances", "AuthorizeSecurityGroupIngress", "CreateTags", "StopInstances"))
    if name in ("RunInstances", "CreateTags"):
        x = r.random()
        actor = (acc["slr"]["autoscaling"] if x < 0.6 else acc["ci"][1] if x < 0.9 else r.choice(pk["admins"]))
    elif name == "AuthorizeSecurityGroupIngress":
        x = r.random()
        actor = acc["ci"][1] if x < 0.5 else acc["cfn"] if x < 0.8 else r.choice(pk["admins"])
    else:  # the instance scheduler, or someone stopping an instance by hand
        actor = place.lambdas["instance-scheduler"] if r.random() < 0.8 else r.choice(pk["admins"])
    rec = g.base(t, place, "ec2.amazonaws.com", name, False, actor)
    inst = r.choice(place.instances)
    if name == "RunInstances":
        rec["requestParameters"] = {"instancesSet": {"items": [{"imageId": r.choice(place.amis), "minCount": 1, "maxCount": 1}]},
                                    "instanceType": r.choice(("t3.micro", "m5.large", "c6i.xlarge")),
                                    "blockDeviceMapping": {}, "monitoring": {"enabled": False},
                                    "disableApiTermination": False, "clientToken": g.uuid(),
                                    "subnetId": r.choice(place.subnets)}
        rec["responseElements"] = {"requestId": rec["requestID"], "reservationId": "r-0" + g.hexid(16),
                                   "ownerId": place.account, "instancesSet": {"items": [{"instanceId": "i-0" + g.hexid(16),
                                                                                         "instanceState": {"code": 0, "name": "pending"}}]}}
    elif name == "AuthorizeSecurityGroupIngress":
        if r.random() < 0.01:  # a listener of an internet-facing load balancer (the first two groups)
            group, port, cidr = place.sgs[r.randrange(2)], 443 if r.random() < 0.7 else 80, "0.0.0.0/0"
        else:
            group = place.sgs[r.randrange(2, len(place.sgs))]
            port = r.choice(_PORTS)
            cidr = r.choice(_PRIVATE_CIDRS) if port != 22 else "10.200.0.0/16"
        rule = {"ipProtocol": "tcp", "fromPort": port, "toPort": port,
                "ipRanges": {"items": [{"cidrIp": cidr}]}}
        rec["requestParameters"] = {"groupId": group, "ipPermissions": {"items": [rule]}}
        rec["responseElements"] = {"requestId": rec["requestID"], "_return": True}
    elif name == "CreateTags":
        rec["requestParameters"] = {"resourcesSet": {"items": [{"resourceId": inst.instance_id}]},
                                    "tagSet": {"items": [{"key": "owner", "value": r.choice(_PEOPLE)}]}}
        rec["responseElements"] = {"requestId": rec["requestID"], "_return": True}
    else:
        rec["requestParameters"] = {"instancesSet": {"items": [{"instanceId": inst.instance_id}]}, "force": False}
        rec["responseElements"] = {"requestId": rec["requestID"], "instancesSet": {"items": [
            {"instanceId": inst.instance_id, "currentState": {"code": 64, "name": "stopping"},
             "previousState": {"code": 16, "name": "running"}}]}}
    return g.maybe_error(rec, actor)


# (weight, maker): roughly the mix of a busy account with S3 data events on.
KINDS: tuple[tuple[float, Callable[[_Gen, dt.datetime, _Place], dict[str, Any]]], ...] = (
    (0.30, _s3_object), (0.14, _assume_role), (0.16, _ec2_describe), (0.14, _kms), (0.03, _iam_write),
    (0.01, _console_login), (0.14, _lambda_cloudwatch), (0.02, _service_event), (0.06, _ec2_write),
)
_MAKERS = [m for _, m in KINDS]
_WEIGHTS = [w for w, _ in KINDS]


def make_records(n: int, *, seed: int = 0, start: dt.datetime = START,
                 span: dt.timedelta = FILE_SPAN, account: str | None = None,
                 region: str | None = None, world_seed: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``n`` records with times spread over ``[start, start + span)``, in time order.

    ``seed`` drives the choices of this batch; ``world_seed`` (default: ``seed``) the accounts'
    principals and resources, which every batch of one data set shares.
    """
    world = _world(seed if world_seed is None else world_seed)
    g = _Gen(seed, world)
    r = g.r
    step = span.total_seconds() / max(n, 1)
    kinds = r.choices(_MAKERS, _WEIGHTS, k=n)
    for i, maker in enumerate(kinds):
        t = start + dt.timedelta(seconds=int(i * step))
        place = world.places[(account or r.choice(ACCOUNTS), region or r.choice(REGIONS))]
        yield maker(g, t, place)


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
    recs = list(make_records(count, seed=seed * 1_000_003 + index, start=t0, account=account, region=region,
                             world_seed=seed))
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
    root = data_dir / f"ct-{records}-{files}-s{seed}-g{GENERATOR}"
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
