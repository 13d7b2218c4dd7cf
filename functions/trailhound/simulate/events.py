"""Building complete, realistic CloudTrail records."""

from __future__ import annotations

import datetime as dt
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "111122223333"
TLS = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}
CLI_UA = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.9 command/{cmd}"
SDK_UA = "Boto3/1.34.140 md/Botocore#1.34.140 ua/2.0 os/linux#5.10.219 md/arch#x86_64 lang/python#3.11.9 cfg/retry-mode#legacy Botocore/1.34.140"
CONSOLE_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
TF_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.9.2 (+https://www.terraform.io) terraform-provider-aws/5.59.0 aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64"


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Actor:
    """Who makes a call: enough to fill ``userIdentity``."""

    type: str  # IAMUser | AssumedRole | Root | AWSService
    name: str  # user name, or role name for AssumedRole
    principal_id: str
    access_key_id: str | None = None
    session_name: str | None = None
    account_id: str = ACCOUNT
    ec2_instance: bool = False  # credentials delivered by IMDS to an instance
    mfa: bool = False
    invoked_by: str | None = None

    @property
    def arn(self) -> str:
        if self.type == "IAMUser":
            return f"arn:aws:iam::{self.account_id}:user/{self.name}"
        if self.type == "AssumedRole":
            return f"arn:aws:sts::{self.account_id}:assumed-role/{self.name}/{self.session_name}"
        if self.type == "Root":
            return f"arn:aws:iam::{self.account_id}:root"
        return self.name

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{self.name}"

    def identity(self, at: dt.datetime) -> dict[str, Any]:
        if self.type == "AWSService":
            return {"type": "AWSService", "invokedBy": self.name}
        ident: dict[str, Any] = {"type": self.type, "principalId": self.principal_id, "arn": self.arn,
                                 "accountId": self.account_id}
        if self.access_key_id:
            ident["accessKeyId"] = self.access_key_id
        if self.type == "IAMUser":
            ident["userName"] = self.name
        if self.type == "AssumedRole":
            created = at - dt.timedelta(minutes=17)
            ctx: dict[str, Any] = {
                "sessionIssuer": {"type": "Role", "principalId": self.principal_id.split(":")[0],
                                  "arn": self.role_arn, "accountId": self.account_id, "userName": self.name},
                "webIdFederationData": {},
                "attributes": {"creationDate": iso(created), "mfaAuthenticated": str(self.mfa).lower()},
            }
            if self.ec2_instance:
                ctx["ec2RoleDelivery"] = "2.0"
            ident["sessionContext"] = ctx
        elif self.mfa or self.type == "Root":
            ident["sessionContext"] = {"attributes": {"creationDate": iso(at - dt.timedelta(minutes=5)),
                                                      "mfaAuthenticated": str(self.mfa).lower()}}
        if self.invoked_by:
            ident["invokedBy"] = self.invoked_by
        return ident


def rand_id(rng: random.Random, prefix: str, n: int = 16, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def user(rng: random.Random, name: str, *, key: bool = True, mfa: bool = False) -> Actor:
    return Actor("IAMUser", name, rand_id(rng, "AIDA", 17), rand_id(rng, "AKIA") if key else None, mfa=mfa)


def role_session(rng: random.Random, role: str, session: str, *, ec2: bool = False, mfa: bool = False,
                 invoked_by: str | None = None) -> Actor:
    return Actor("AssumedRole", role, f"{rand_id(rng, 'AROA', 17)}:{session}", rand_id(rng, "ASIA"),
                 session_name=session, ec2_instance=ec2, mfa=mfa, invoked_by=invoked_by)


_READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search", "Check", "BatchGet", "Scan", "Query")


@dataclass
class Recorder:
    """Builds records with reproducible ids from one random generator."""

    rng: random.Random
    records: list[dict[str, Any]] = field(default_factory=list)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def call(self, actor: Actor, at: dt.datetime, source: str, name: str, *, region: str = "us-east-1",
             ip: str = "203.0.113.10", ua: str = SDK_UA, req: dict[str, Any] | None = None,
             resp: dict[str, Any] | None = None, error: str | None = None, error_message: str | None = None,
             read_only: bool | None = None, resources: list[dict[str, str]] | None = None,
             event_type: str = "AwsApiCall", additional: dict[str, Any] | None = None,
             category: str = "Management", management: bool = True) -> dict[str, Any]:
        service = source.split(".")[0]
        host = f"{service}.amazonaws.com" if service in ("iam", "sts", "s3") else f"{service}.{region}.amazonaws.com"
        rec: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": actor.identity(at),
            "eventTime": iso(at),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": actor.name if actor.type == "AWSService" else ip,
            "userAgent": actor.name if actor.type == "AWSService" else ua,
            "requestParameters": req,
            "responseElements": resp,
            "requestID": self.uuid(),
            "eventID": self.uuid(),
            "readOnly": name.startswith(_READ_PREFIXES) if read_only is None else read_only,
            "eventType": event_type,
            "managementEvent": management,
            "recipientAccountId": actor.account_id,
            "eventCategory": category,
            "tlsDetails": {**TLS, "clientProvidedHostHeader": host},
        }
        if error:
            rec["errorCode"] = error
            rec["errorMessage"] = error_message or (
                f"User: {actor.arn} is not authorized to perform: {service}:{name} because no identity-based "
                "policy allows the action")
            rec["responseElements"] = None
        if resources:
            rec["resources"] = resources
        if additional:
            rec["additionalEventData"] = additional
        if actor.type == "AWSService":
            rec["eventType"] = "AwsServiceEvent" if event_type == "AwsApiCall" else event_type
        self.records.append(rec)
        return rec
