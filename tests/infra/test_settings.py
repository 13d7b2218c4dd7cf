"""Context parsing and the pieces of the app that need no synth (fast)."""

from __future__ import annotations

import base64

import pytest
from infra_synth import REPO

pytestmark = pytest.mark.slow  # starts the jsii kernel and loads the detection pack: ~20 s


def _settings(**context: object):  # noqa: ANN202
    from aws_cdk import App
    from trailhound_infra.settings import Settings

    return Settings.from_context(App(context=context))


def test_defaults_are_the_workshop_defaults() -> None:
    from trailhound_infra.settings import ContainmentMode

    s = _settings()
    assert s.containment_mode is ContainmentMode.DRY_RUN and not s.uses_lake
    assert s.notebook and not s.notebook_internet and not s.security_hub and not s.retain_data
    assert "us-east-1" in s.trail_regions and s.athena_bytes_scanned_cutoff_gb == 10


def test_cli_strings_are_normalised() -> None:
    s = _settings(containmentMode="automatic", securityHub="true", protectedPrincipals=" arn:aws:iam::*:role/A*, ",
                  athenaBytesScannedCutoffGb="2", eventDataStoreId="0a1b2c3d-4e5f-6789-abcd-ef0123456789")
    assert s.containment_mode.value == "automatic" and s.security_hub is True
    assert s.protected_principals == ("arn:aws:iam::*:role/A*",)
    assert s.athena_bytes_scanned_cutoff_gb == 2 and s.uses_lake


@pytest.mark.parametrize(("key", "value", "message"), [
    ("containmentMode", "yolo", "containmentMode: 'yolo' is not one of dry-run, approval, automatic"),
    ("securityHub", "yes", "securityHub: expected true or false"),
    ("notificationEmail", "not-an-address", "notificationEmail"),
    ("protectedPrincipals", "Admin", "protectedPrincipals: 'Admin' is not an ARN pattern"),
    ("eventDataStoreId", "x y", "eventDataStoreId"),
    ("athenaBytesScannedCutoffGb", "0", "athenaBytesScannedCutoffGb: expected at least 1"),
    ("trailRegions", "us-east-1,mars-1", "trailRegions: not Region names: mars-1"),
])
def test_bad_context_names_the_key(key: str, value: str, message: str) -> None:
    from trailhound_infra.settings import ContextError

    with pytest.raises(ContextError, match="context " + message.replace("(", r"\(")):
        _settings(**{key: value})


def test_lifecycle_script_fits_the_sagemaker_limit() -> None:
    from trailhound_infra.notebook import on_start_script

    env = {f"TRAILHOUND_VAR_{i}": "x" * 120 for i in range(20)}
    script = on_start_script("s3://cdk-bucket/" + "k" * 70 + ".zip", env)
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert len(base64.b64encode(script.encode())) < 16384
    assert "nohup" in script  # pip runs in the background, past the 5-minute limit


def test_runtime_requirements_come_from_pyproject() -> None:
    import tomllib

    from trailhound_infra.assets import runtime_requirements

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert runtime_requirements(include_runtime_provided=True) == declared
    lambda_deps = runtime_requirements(include_runtime_provided=False)
    assert not [d for d in lambda_deps if d.lower().startswith(("boto3", "botocore"))]
    assert len(lambda_deps) == len(declared) - sum(d.lower().startswith(("boto3", "botocore")) for d in declared)


def test_retention_rounds_up_to_a_cloudwatch_value() -> None:
    from trailhound_infra.aspects import retention_days

    assert retention_days(30) == 30 and retention_days(31) == 60 and retention_days(10_000) == 3653


def test_schedule_groups_follow_the_detection_headers(tmp_path) -> None:  # noqa: ANN001
    from trailhound_infra.detections import DEFAULT_SCHEDULE, ScheduleGroup, header_schedule, schedule_groups

    assert schedule_groups(tmp_path) == [ScheduleGroup(DEFAULT_SCHEDULE, ())]
    assert header_schedule("/*\nid: x\nschedule: 1h\n*/\nSELECT 1") == "1h"
    assert header_schedule("SELECT 1") is None
    groups = schedule_groups()
    ids = [i for g in groups for i in g.detection_ids]
    assert len(ids) == len(set(ids)) == len(list((REPO / "sql" / "detections").glob("*.sql")))
    for g in groups:
        assert g.rate.to_minutes() >= 1


def test_encryption_aspect_fails_an_unencrypted_store() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Annotations, Match
    from trailhound_infra.aspects import apply_aspects

    stack = Stack(App(), "Probe")
    s3.CfnBucket(stack, "Plain")
    sns.Topic(stack, "Clear")
    s3.Bucket(stack, "Encrypted", encryption=s3.BucketEncryption.S3_MANAGED)
    apply_aspects(stack, log_retention_days=30, nag=False)
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("TrailHound encryption rule"))
    assert sorted(e.id for e in errors) == ["/Probe/Clear/Resource", "/Probe/Plain"]
