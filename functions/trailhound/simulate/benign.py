"""Everyday activity: console browsing, CI deploys, IaC, service-linked roles, instance agents."""

from __future__ import annotations

import datetime as dt
import random

from trailhound.simulate.events import CLI_UA, CONSOLE_UA, SDK_UA, TF_UA, Actor, Recorder, role_session, user

_CONSOLE_CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances", {"maxResults": 1000}),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", None),
    ("ec2.amazonaws.com", "DescribeVpcs", None),
    ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}),
    ("iam.amazonaws.com", "ListRoles", None),
    ("iam.amazonaws.com", "GetAccountSummary", None),
    ("lambda.amazonaws.com", "ListFunctions20150331", None),
    ("cloudwatch.amazonaws.com", "DescribeAlarms", None),
    ("logs.amazonaws.com", "DescribeLogGroups", None),
    ("cloudtrail.amazonaws.com", "LookupEvents", {"maxResults": 50}),
    ("health.amazonaws.com", "DescribeEventAggregates", None),
    ("ce.amazonaws.com", "GetCostAndUsage", None),
]


def benign_records(rec: Recorder, start: dt.datetime, end: dt.datetime, n: int, *, rng: random.Random,
                   regions: tuple[str, ...] = ("us-east-1", "eu-west-1")) -> None:
    """Append about ``n`` benign records between ``start`` and ``end``."""
    if n <= 0:
        return
    span = max(1.0, (end - start).total_seconds())
    sso = role_session(rng, "AWSReservedSSO_ReadOnly_1a2b3c4d5e6f7a8b", "jane.doe@example.com", mfa=True)
    ci = role_session(rng, "github-actions-deploy", "GitHubActions-9f8e7d")
    tf = role_session(rng, "terraform-apply", "terraform-run-4471")
    config_slr = role_session(rng, "AWSServiceRoleForConfig", "AWSConfig-Describe",
                              invoked_by="config.amazonaws.com")
    web = role_session(rng, "web-app-role", "i-0a1b2c3d4e5f60718", ec2=True)
    ops = user(rng, "ops-admin", mfa=True)
    kinds = [("console", 0.35), ("agent", 0.2), ("config", 0.15), ("ci", 0.1), ("ops", 0.1), ("tf", 0.05),
             ("denied", 0.05)]
    names, weights = zip(*kinds, strict=True)
    for _ in range(n):
        at = start + dt.timedelta(seconds=rng.random() * span)
        kind = rng.choices(names, weights)[0]
        region = rng.choice(regions)
        if kind == "console":
            src, name, req = rng.choice(_CONSOLE_CALLS)
            rec.call(sso, at, src, name, region=region, ip="192.0.2.44", ua=CONSOLE_UA, req=req)
        elif kind == "agent":
            rec.call(web, at, "ssm.amazonaws.com", "UpdateInstanceInformation", region="us-east-1",
                     ip="54.210.33.17", ua="aws-sdk-go/1.44.329 (go1.20.12; linux; amd64) amazon-ssm-agent/3.3.484.0",
                     req={"instanceId": "i-0a1b2c3d4e5f60718", "agentVersion": "3.3.484.0"}, read_only=False)
        elif kind == "config":
            rec.call(config_slr, at, "ec2.amazonaws.com", rng.choice(["DescribeInstances", "DescribeVolumes"]),
                     region=region, ip="config.amazonaws.com", ua="config.amazonaws.com")
        elif kind == "ci":
            fn = rng.choice(["orders-api", "billing-worker", "thumbnailer"])
            rec.call(ci, at, "lambda.amazonaws.com", "UpdateFunctionCode20150331v2", region="us-east-1",
                     ip="140.82.112.5", ua=SDK_UA,
                     req={"functionName": fn, "s3Bucket": "artifacts-111122223333", "s3Key": f"{fn}/build.zip",
                          "publish": True},
                     resp={"functionName": fn, "functionArn": f"arn:aws:lambda:us-east-1:111122223333:function:{fn}"})
        elif kind == "ops":
            rec.call(ops, at, rng.choice(["ec2.amazonaws.com", "rds.amazonaws.com"]),
                     rng.choice(["DescribeInstances", "DescribeDBInstances"]), region=region,
                     ip="192.0.2.50", ua=CLI_UA.format(cmd="ec2.describe-instances"))
        elif kind == "tf":
            rec.call(tf, at, "iam.amazonaws.com", "GetRole", region="us-east-1", ip="140.82.112.9", ua=TF_UA,
                     req={"roleName": "orders-api-exec"})
        else:  # an occasional, ordinary permission error
            rec.call(ops, at, "ce.amazonaws.com", "GetCostForecast", region="us-east-1", ip="192.0.2.50",
                     ua=CONSOLE_UA, error="AccessDenied")


__all__ = ["benign_records", "Actor"]
